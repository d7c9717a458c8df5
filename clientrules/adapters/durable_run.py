"""durable-rules run within what it survives: a compiled rule set (:mod:`clientrules.adapters.durable_compile`),
one client's facts at a time.

This module and durable-rules are all that the engine's own process loads
(:mod:`clientrules.adapters.engine_process`); :class:`~clientrules.adapters.durable.DurableEngine`
runs it in the deciding process.

durable-rules (2.0.28, unmaintained) is the engine; this module keeps it
within what it survives (``docs/decisions.md``, The engine):

* No ``durable.lang`` and no ``Host``: their background threads crash when
  sessions are deleted, and a registered ruleset cannot be replaced. A
  :class:`durable.engine.Ruleset` is built directly and run synchronously:
  assert the client's facts, run the actions, delete the session.
* One live session at a time, deleted after every client (1,024 live
  sessions is a hard limit), all of it under one process-wide lock (the C
  module is not thread-safe and holds the GIL anyway, so the lock costs no
  parallelism).
* Exceptions inside actions are swallowed by durable-rules into the session
  state: both that and our own record of them are checked after every client.
* Message ids are compared by a 32-bit hash: each fact gets a unique id, and
  a spurious ``already observed`` answer is retried with a fresh session.
  Session ids are ``s1``, ``s2``, ... rather than client ids, and only one
  session lives at a time, so two clients whose ids collide never share one.
* Its JSON reader takes an exponent only after a decimal point: facts are
  written by :func:`_message_json` (``1.0e-05``, where Python writes ``1e-05``,
  which it misreads and then crashes the process on).
* A session in which no action ran cannot be deleted (``delete_state``
  segfaults; found by the differential test), and a fact no rule matches
  still takes one of the 1,024 session slots. So every rule set gets a
  catch-all rule, ``$settled``, that matches every client's facts and fires
  last: every session runs at least one action, and its firing is checked.

Negation (``not signal X``) needs stratification, because durable-rules does
not withdraw an activation when the negated fact arrives later. Each rule has
a stage (:meth:`RuleSet.stages`); rules of stage ``k > 0`` also match a
``stage k`` fact, and an ``advance`` rule asserts stage ``k`` from stage
``k - 1`` with a priority so low that it fires only when nothing else can.
The trace of what fired is kept in Python, not in the session state (the
state is re-serialised after every action).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping

import durable_rules_engine
from durable.engine import Ruleset

from clientrules.domain.errors import EngineError

if TYPE_CHECKING:  # not at run time: the engine's process loads no more of the library than it must
    from clientrules.adapters.durable_compile import CompiledRules

#: Serialises every call into the durable-rules C module, whichever engine makes it.
DURABLE_LOCK = threading.RLock()
#: status of durable-rules' assert calls: 0 handled, 1 matched no rule (harmless here), 2 already observed
_OBSERVED = 2
_ATTEMPTS = 4
_ruleset_numbers = itertools.count(1)
#: a number written with an exponent and no decimal point, as the value of a key
_BARE_EXPONENT = re.compile(r'(?<=": )(-?\d+)e')
_KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number"}


class _Observed(Exception):
    """durable-rules took a new fact for one it has seen (a 32-bit hash collision): retry."""


def _message_json(message: dict[str, Any]) -> str:
    """A flat message (names to text, true/false, whole or finite numbers) as JSON durable-rules reads right.

    Its number reader takes an exponent only after a decimal point, so a float
    that Python writes as ``1e-05`` is written ``1.0e-05``. One ``json.dumps``
    of the whole message, then that fix on numbers only: a number follows a
    key's ``": "``, and no text value here (names, rule ids, session ids) holds one.
    """
    return _BARE_EXPONENT.sub(r"\1.0e", json.dumps(message))


class DurableRun:
    """A compiled rule set on durable-rules: the rules that fire for one client's facts at a time. Safe to share
    between threads."""

    def __init__(self, compiled: CompiledRules) -> None:
        self.version = compiled["version"]
        self._kinds = compiled["kinds"]
        self._stratified = compiled["stratified"]
        self._settled = compiled["settled"]
        # per evaluation, bound into the actions' closures (guarded by DURABLE_LOCK)
        self._fired: list[str] = []
        self._errors: list[BaseException] = []
        self._definition = {
            name: {"all": rule["all"], "pri": rule["pri"], "run": self._action(rule["fires"], rule["asserts"])}
            for name, rule in compiled["rules"].items()
        }
        self._ruleset: Ruleset | None = None
        self._sessions = itertools.count(1)

    def _action(self, rule_id: str | None, asserts: dict[str, Any] | None) -> Callable[[Any], None]:
        fired, errors = self._fired, self._errors

        def action(closure: Any) -> None:
            try:
                if rule_id is not None:
                    if rule_id in fired:  # an 'any' with several options holding activates a rule once per option
                        return
                    fired.append(rule_id)
                if asserts is not None:
                    sid = closure.s.sid
                    fact = {**asserts, "sid": sid, "id": f"{sid}:{asserts['t']}:{asserts.get('name', asserts.get('n'))}"}
                    ruleset = self._ruleset
                    assert ruleset is not None, "an action runs only while its ruleset is live"
                    status, _ = durable_rules_engine.assert_fact(ruleset._handle, _message_json(fact))
                    if status == _OBSERVED:
                        errors.append(_Observed())
            except BaseException as error:  # durable-rules would swallow it: keep it to raise later
                errors.append(error)
                raise

        return action

    def _live_ruleset(self) -> Ruleset:
        if self._ruleset is None:
            name = f"clientrules-v{self.version}-{next(_ruleset_numbers)}"
            try:
                self._ruleset = Ruleset(name, None, self._definition_for_durable())
            except durable_rules_engine.error as error:
                raise EngineError(f"the rules engine refused rule-set version {self.version}: {error}") from None
        return self._ruleset

    def _definition_for_durable(self) -> dict[str, dict[str, Any]]:
        # durable-rules deletes "run" from the dict it is given: hand it copies
        return {name: dict(rule) for name, rule in self._definition.items()}

    def fired(self, values: Mapping[str, Any], *, client: str = "") -> list[str]:
        """The ids of the rules that fire for a client's fact ``values``, in firing order (the catch-all left out)."""
        payload = self._facts_fact(client, values)
        with DURABLE_LOCK:
            for _ in range(_ATTEMPTS):
                try:
                    return self._run(payload)
                except _Observed:
                    continue
        raise EngineError(
            f"the rules engine kept reporting a duplicate fact for client {client!r} ({_ATTEMPTS} attempts)"
        )

    def _facts_fact(self, client: str, values: Mapping[str, Any]) -> dict[str, Any]:
        fact: dict[str, Any] = {"t": "facts"}
        for name, expected in self._kinds.items():
            value = values.get(name)
            if value is None:
                continue
            if (
                (expected is bool) != isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise EngineError(
                    f"fact {name} of client {client!r} is {value!r}, not {_KIND_WORDS[expected]}"
                )
            fact[name] = value
        return fact

    def _run(self, facts_fact: dict[str, Any]) -> list[str]:
        ruleset = self._live_ruleset()
        sid = f"s{next(self._sessions)}"
        messages = [{**facts_fact, "sid": sid, "id": f"{sid}:facts"}]
        if self._stratified:
            messages.append({"t": "stage", "n": 0, "sid": sid, "id": f"{sid}:stage:0"})
        self._fired.clear()
        self._errors.clear()
        outcome: list[tuple[Any, Any]] = []
        try:
            status, state_handle = durable_rules_engine.assert_facts(
                ruleset._handle, "[" + ", ".join(map(_message_json, messages)) + "]"
            )
            # run the actions even after "already observed": deleting a session in which no
            # action ran can crash durable-rules
            ruleset.do_actions(state_handle, lambda error, state: outcome.append((error, state)))
        except durable_rules_engine.error as failure:
            raise EngineError(f"the rules engine failed under rule-set version {self.version}: {failure}") from None
        finally:
            durable_rules_engine.delete_state(ruleset._handle, sid)
        if status == _OBSERVED:
            raise _Observed()
        error, state = outcome[0] if outcome else (None, None)
        for problem in self._errors:
            if isinstance(problem, _Observed):
                raise problem
            raise EngineError(f"a rule action failed: {problem!r}") from problem
        if error is not None:
            raise EngineError(f"the rules engine failed: {error}")
        if state and state.get("exception"):
            raise EngineError(f"a rule action failed: {str(state['exception']).splitlines()[0][:200]}")
        if not self._fired or self._fired[-1] != self._settled:
            raise EngineError(f"the rules engine stopped before settling (fired: {self._fired})")
        return self._fired[:-1]

    def close(self) -> None:
        """Free the compiled durable-rules ruleset (it is rebuilt if the engine is used again)."""
        with DURABLE_LOCK:
            if self._ruleset is not None:
                durable_rules_engine.delete_ruleset(self._ruleset._handle)
                self._ruleset = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the C module may be gone already
            pass
