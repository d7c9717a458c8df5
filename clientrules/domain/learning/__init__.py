"""The learning loop: what departed clients said, what their logs showed, and which rules to change.

``ledger.learning`` (:class:`clientrules.application.learning.Learning`):
``report()``, ``proposals()``, ``accept(id)``, ``reject(id)``,
``backtest(ruleset_text=None)``. The evidence and its censoring rule are in
:mod:`clientrules.domain.learning.evidence`, the method behind proposals in
:mod:`clientrules.domain.learning.proposals` (new rules) and
:mod:`clientrules.domain.learning.tuning` (new thresholds for the rules we
have), the replay in :mod:`clientrules.domain.learning.backtest`.
"""

from clientrules.domain.learning.backtest import Backtest, Outcome
from clientrules.domain.learning.evidence import Evidence
from clientrules.domain.learning.history import ClientRecord, History, Timeframe
from clientrules.domain.learning.proposals import CANDIDATE_FACTS, Finding, Method, NoProposal
from clientrules.domain.learning.report import REPORT_KEYS, Report
from clientrules.domain.learning.tuning import Tuning

__all__ = [
    "CANDIDATE_FACTS",
    "REPORT_KEYS",
    "Backtest",
    "ClientRecord",
    "Evidence",
    "Finding",
    "History",
    "Method",
    "NoProposal",
    "Outcome",
    "Report",
    "Timeframe",
    "Tuning",
]
