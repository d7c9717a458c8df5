"""``evaluate --workers N``: the clients cut into chunks, decided by a pool of N processes.

Each process opens its own ledger on the same database (``open_ledger``,
which the ledger gives: it must pickle) and keeps one engine (durable-rules is
one-thread-per-process bound). The caller fixes the moment and the rule-set
version before anything starts, so the decisions are the ones a single
process would reach, in the same order.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Protocol, Sequence

from clientrules.application.decisions import Decisions
from clientrules.application.rule_versions import RuleSetVersion, RuleVersions
from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError
from clientrules.domain.events import Instant

#: most clients sent to a process at once (and recorded in one transaction)
MAX_CHUNK = 1_000


class DecidingLedger(Protocol):
    """What a pool process needs of the ledger it opens."""

    @property
    def rules(self) -> RuleVersions: ...

    @property
    def decisions(self) -> Decisions: ...


#: the ledger of this pool process, opened by :func:`_open`
_process_ledger: DecidingLedger | None = None


def iter_evaluate_parallel(
    open_ledger: Callable[[], DecidingLedger],
    clients: Sequence[str],
    *,
    workers: int,
    moment: Instant,
    version: RuleSetVersion,
    record: bool = False,
    set_aside: Callable[[str, str], None] | None = None,
) -> Iterator[Decision]:
    """The decisions of ``clients`` (checked already) as of ``moment`` under ``version``, over ``workers`` processes.

    Decisions come in the order a single process gives them. Each process
    records its own chunks (one transaction per chunk). A client that cannot
    be decided goes to ``set_aside`` as in one process (without it, its error is raised).
    """
    if not clients:
        return
    size = min(MAX_CHUNK, math.ceil(len(clients) / (workers * 4)))
    chunks = [list(clients[start:start + size]) for start in range(0, len(clients), size)]
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context("spawn"),  # no inherited pool sockets or engine threads
        initializer=_open,
        initargs=(open_ledger,),
    ) as pool:
        for decisions, failed in pool.map(_decide, chunks, [(moment, version.version, record)] * len(chunks)):
            for client, reason in failed:
                if set_aside is None:
                    raise ClientRulesError(reason)
                set_aside(client, reason)
            yield from decisions


def _open(open_ledger: Callable[[], DecidingLedger]) -> None:
    global _process_ledger
    _process_ledger = open_ledger()


def _decide(clients: list[str], task: tuple[Instant, int, bool]) -> tuple[list[Decision], list[tuple[str, str]]]:
    moment, version, record = task
    assert _process_ledger is not None, "the pool's initializer opened the process's ledger"
    failed: list[tuple[str, str]] = []
    try:
        ruleset = _process_ledger.rules.get(version)
        decisions = _process_ledger.decisions.iter_evaluate(
            clients, as_of=moment, record=record, ruleset=ruleset, set_aside=lambda *client_reason: failed.append(client_reason)
        )
        return list(decisions), failed
    except ClientRulesError as error:  # subclasses with extra arguments do not survive pickling
        raise ClientRulesError(str(error)) from None
