"""The rule sets durable-rules can run: the network it would build, measured against its fixed-size tables.

durable-rules 2.0.28 compiles a rule set into a Rete network of *alpha*
nodes (one test of one property of a message, shared between rules that
test the same thing after the same tests) and *beta* nodes (one per pattern
of a rule). Its C code keeps them in fixed-size tables, and several of
those overflow without a check: the process then dies of heap corruption
(``free(): invalid size``) instead of reporting an error. The tables, from
``src/rules/rules.h``, ``rete.c`` and ``events.c``:

* the patterns that end on one alpha node: 256 slots, zero-terminated, and
  the 257th is written past the end (``BETA_LIST_LENGTH``);
* the different tests that follow one alpha node: a 512-bucket hash set
  (``NEXT_BUCKET_LENGTH``; error 106 when full);
* the ``any`` groups that continue after one alpha node: 128 slots, the
  129th written past the end (``NEXT_LIST_LENGTH``);
* the tests that hold at once while one message goes through the network:
  a stack of 64 (``MAX_STACK_SIZE``; error 303 mid-evaluation);
* the ``and``/``or`` groups of one pattern: 32 entries
  (``MAX_SEQUENCE_EXPRESSIONS``; error 113);
* the messages one rule joins: 16 (``MAX_MESSAGE_FRAMES``).

:func:`engine_limit_problems` builds the same network that the engine adapter
(:mod:`clientrules.adapters.durable_compile`) compiles, counts each table and refuses
a rule set that comes near any of them; each limit here keeps a margin below
the engine's. The count of tests that can hold at once is an upper bound:
every child test is assumed to hold, except that of several ``==`` tests of
one property with values of one type only one can.
"""

from __future__ import annotations

import itertools
from typing import Iterable

import attrs

from clientrules.domain.rules.model import AnyOf, Comparison, FactValue, Rule, RuleSet


@attrs.frozen
class EngineLimit:
    """One limit: where durable-rules breaks and how far below that a rule set must stay."""

    #: what is counted, in plain words
    counted: str
    #: the count at which durable-rules fails or corrupts its memory
    breaks_at: int
    #: the largest count validation accepts
    allowed: int


#: 350 identical rules corrupted the heap (the table of rules per condition); 3,000 rules took minutes
RULES = EngineLimit("rules", 350, 200)
COMPARISONS = EngineLimit("fact comparisons in all (those inside 'any' included)", 3_000, 1_000)
SOURCE_BYTES = EngineLimit("bytes of rule-file text", 400 * 1024, 256 * 1024)
RULES_PER_TEST = EngineLimit("rules ending on the same conditions", 256, 200)
TESTS_AFTER_TEST = EngineLimit("different conditions following the same conditions", 512, 400)
ANY_AFTER_TEST = EngineLimit("'any' groups sharing one option", 128, 100)
TESTS_AT_ONCE = EngineLimit("conditions that can hold at once for one client", 65, 48)
GROUPS_PER_RULE = EngineLimit("entries of a rule's 'and'/'any' table", 32, 24)
#: every limit, in the order problems are reported
LIMITS: tuple[EngineLimit, ...] = (
    RULES,
    COMPARISONS,
    SOURCE_BYTES,
    RULES_PER_TEST,
    TESTS_AFTER_TEST,
    ANY_AFTER_TEST,
    TESTS_AT_ONCE,
    GROUPS_PER_RULE,
)

_Test = tuple[str, str, str, object]  # property, operator, value type, value


def over_limit(limit: EngineLimit, count: int, where: str) -> str:
    """The one-line problem for ``count`` over ``limit`` at ``where``."""
    return (
        f"{where}: {count} {limit.counted}, at most {limit.allowed} allowed "
        f"(the rules engine fails at {limit.breaks_at})"
    )


def source_size_problem(text: str) -> str | None:
    """The problem with a rule file too large to read, or None; checked before parsing."""
    size = len(text.encode("utf-8", "surrogatepass"))
    return over_limit(SOURCE_BYTES, size, "rule set") if size > SOURCE_BYTES.allowed else None


class _Alpha:
    """One alpha node: a test, the tests after it, the ``any`` groups after it, the patterns ending on it."""

    def __init__(self, label: str, path: str = "") -> None:
        #: who ends on this node, for a problem with its patterns
        self.label = label
        #: the conditions that lead to this node, for a problem with what follows it
        self.path = path
        self.children: dict[_Test, _Alpha] = {}
        self.forwards: list[_Alpha] = []
        self.patterns = 0

    def child(self, test: _Test, label: str, path: str = "") -> _Alpha:
        if test not in self.children:
            self.children[test] = _Alpha(label, path)
        return self.children[test]

    def nodes(self) -> Iterable[_Alpha]:
        """This node and every node after it, each once."""
        seen: set[int] = set()
        stack: list[_Alpha] = [self]
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen.add(id(node))
                yield node
                stack.extend(node.children.values())
                stack.extend(node.forwards)

    def holding_at_once(self) -> int:
        """How many of the following tests can hold together for one message (an upper bound)."""
        equal_types: set[tuple[str, str]] = set()
        others = 0
        for prop, op, kind, _ in self.children:
            if op == "==":
                equal_types.add((prop, kind))
            else:
                others += 1
        return len(equal_types) + others + len(self.forwards)


def _kind(value: object) -> str:
    return type(value).__name__


def _test(prop: str, op: str, value: FactValue | str) -> _Test:
    return (prop, op, _kind(value), value)


class _Network:
    """The alpha network the engine adapter's compilation of a rule set gives."""

    def __init__(self) -> None:
        self.root = _Alpha("")
        self.facts = self.root.child(_test("t", "==", "facts"), "rules with no fact condition")

    def signal(self, name: str) -> _Alpha:
        node = self.root.child(_test("t", "==", "signal"), "")
        return node.child(_test("name", "==", name), f"rules matching signal {name!r}")

    def stage(self, stage: int) -> _Alpha:
        node = self.root.child(_test("t", "==", "stage"), "")
        return node.child(_test("n", "==", stage), f"rules waiting for stage {stage} of 'not signal'")

    def comparisons(self, start: _Alpha, comparisons: Iterable[Comparison]) -> _Alpha:
        node = start
        for comparison in comparisons:
            path = f"{node.path} and {comparison}" if node.path else str(comparison)
            node = node.child(_test(comparison.fact, comparison.op, comparison.value), f"rules with {path}", path)
        return node

    def facts_pattern(self, rule: Rule) -> int:
        """Add the pattern of ``rule``'s fact conditions; the entries of its and/or table."""
        node, entries = self.facts, 0
        fact_conditions = [c for c in rule.when if isinstance(c, (Comparison, AnyOf))]
        if fact_conditions:
            entries = 2
        for condition in fact_conditions:
            if isinstance(condition, Comparison):
                node = self.comparisons(node, (condition,))
                continue
            path = f"{node.path} and {condition}" if node.path else str(condition)
            forward = _Alpha(f"rules with {path}", path)
            entries += 2
            for option in condition.options:
                entries += 2 if len(option) > 1 else 0
                self.comparisons(node, option).forwards.append(forward)
            node = forward
        node.patterns += 1
        return entries


def size_problems(ruleset: RuleSet) -> list[str]:
    """The problems of a rule set with too many rules or comparisons; checked before anything that walks it."""
    problems: list[str] = []
    if len(ruleset.rules) > RULES.allowed:
        problems.append(over_limit(RULES, len(ruleset.rules), "rule set"))
    comparisons = sum(len(rule.comparisons) for rule in ruleset.rules)
    if comparisons > COMPARISONS.allowed:
        problems.append(over_limit(COMPARISONS, comparisons, "rule set"))
    return problems


def engine_limit_problems(ruleset: RuleSet) -> list[str]:
    """Every table of the engine that ``ruleset`` (valid otherwise: no cycles) comes too near, one line each."""
    problems: list[str] = []
    network = _Network()
    stages = ruleset.stages()
    for rule in ruleset.enabled_rules:
        entries = network.facts_pattern(rule)
        if entries > GROUPS_PER_RULE.allowed:
            problems.append(over_limit(GROUPS_PER_RULE, entries, f"rule {rule.id!r}"))
        if stages[rule.id]:
            network.stage(stages[rule.id]).patterns += 1
        for condition in rule.signal_conditions:
            network.signal(condition.name).patterns += 1
    for stage in range(1, max(stages.values(), default=0) + 1):
        network.stage(stage - 1).patterns += 1
    network.facts.patterns += 1  # the catch-all rule that settles every client
    for node in network.root.nodes():
        if node.patterns > RULES_PER_TEST.allowed:
            problems.append(over_limit(RULES_PER_TEST, node.patterns, node.label))
        if len(node.children) > TESTS_AFTER_TEST.allowed:
            where = f"rule set, after {node.path}" if node.path else "rule set"
            problems.append(over_limit(TESTS_AFTER_TEST, len(node.children), where))
        if len(node.forwards) > ANY_AFTER_TEST.allowed:
            problems.append(over_limit(ANY_AFTER_TEST, len(node.forwards), f"rule set, option {node.path}"))
    at_once = _stack_depth(network.root, {})
    if at_once > TESTS_AT_ONCE.allowed:
        problems.append(
            over_limit(TESTS_AT_ONCE, at_once, "rule set")
            + "; rules starting with the same conditions share them, so fewer different first conditions help"
        )
    return problems


def _stack_depth(node: _Alpha, memo: dict[int, int]) -> int:
    """The most entries durable-rules' stack can hold while a message goes through ``node`` and what follows.

    The engine pops a node, pushes every following test that holds and every
    ``any`` group after it, then goes on with the last one pushed.
    """
    if id(node) not in memo:
        pushed = node.holding_at_once()
        following = itertools.chain(node.children.values(), node.forwards)
        deepest = max((_stack_depth(child, memo) for child in following), default=0)
        memo[id(node)] = 0 if pushed == 0 else max(pushed, pushed - 1 + deepest)
    return memo[id(node)]
