"""Evaluation spread over processes: ``evaluate --workers N`` and ``clientrules worker``.

durable-rules is bound to one thread per process (see
``shared/notes/durable-rules.md``), so parallel evaluation means processes,
each with its own ledger and engine:

* :func:`~clientrules.application.workers.parallel.iter_evaluate_parallel` spreads a list of
  clients over a local process pool (any backend);
* :class:`~clientrules.application.workers.queue.EvaluationQueue` and
  :func:`~clientrules.application.workers.queue.run_worker` let worker processes on any
  number of hosts share the re-evaluation of changed clients through PostgreSQL.

Import them from their modules: :mod:`clientrules.application.workers.queue` loads psycopg,
which a SQLite user's commands need not pay for.
"""

#: clients claimed, decided and recorded per worker transaction
DEFAULT_BATCH = 50
