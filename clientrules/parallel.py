"""``evaluate --workers N``: the clients cut into chunks, decided by a pool of N processes.

Each process opens its own ledger on the same database and keeps one engine
(durable-rules is one-thread-per-process bound). The parent fixes the moment
and the rule-set version before anything starts, so the decisions are the
ones a single process would reach, in the same order.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, Iterator

from clientrules.domain.decisions import Decision
from clientrules.domain.errors import ClientRulesError, UnknownClient
from clientrules.domain.events import Instant, as_instant, check_client_id
from clientrules.ledger import Ledger

#: most clients sent to a process at once (and recorded in one transaction)
MAX_CHUNK = 1_000

#: the ledger of this worker process, opened by :func:`_open_ledger`
_process_ledger: Ledger | None = None


def iter_evaluate_parallel(
    ledger: Ledger,
    clients: Iterable[str] | None = None,
    *,
    workers: int,
    as_of: Instant | str | None = None,
    record: bool = False,
) -> Iterator[Decision]:
    """``ledger.decisions.iter_evaluate`` over ``workers`` processes, under the current rule-set version.

    Decisions come in the order a single process gives them. Each process
    records its own chunks (one transaction per chunk).
    """
    if workers < 1:
        raise ClientRulesError("workers must be 1 or more")
    moment = Instant.now() if as_of is None else as_instant(as_of, field="as_of")
    version = ledger.rules.current()
    if workers == 1:
        yield from ledger.decisions.iter_evaluate(clients, as_of=moment, record=record, ruleset=version)
        return
    if clients is None:
        ids = ledger.store.client_ids(started_by=moment)
    else:
        ids = [check_client_id(client) for client in clients]
        for client in ids:  # before any process decides or records
            if ledger.version(client) == 0:
                raise UnknownClient(client)
    if not ids:
        return
    size = min(MAX_CHUNK, math.ceil(len(ids) / (workers * 4)))
    chunks = [ids[start:start + size] for start in range(0, len(ids), size)]
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context("spawn"),  # no inherited pool sockets or engine threads
        initializer=_open_ledger,
        initargs=(ledger.url,),
    ) as pool:
        for decisions in pool.map(_decide, chunks, [(moment, version.version, record)] * len(chunks)):
            yield from decisions


def _open_ledger(url: str) -> None:
    global _process_ledger
    _process_ledger = Ledger.open(url)


def _decide(clients: list[str], task: tuple[Instant, int, bool]) -> list[Decision]:
    moment, version, record = task
    assert _process_ledger is not None
    try:
        ruleset = _process_ledger.rules.get(version)
        return _process_ledger.decisions.evaluate(clients, as_of=moment, record=record, ruleset=ruleset)
    except ClientRulesError as error:  # subclasses with extra arguments do not survive pickling
        raise ClientRulesError(str(error)) from None
