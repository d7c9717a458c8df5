"""The learning loop: what departed clients said, what their logs showed, and which rules to change.

``ledger.learning`` (:class:`Learning`): ``report()``, ``proposals()``,
``accept(id)``, ``reject(id)``, ``backtest(ruleset_text=None)``. The method
behind proposals is in :mod:`clientrules.domain.learning.proposals`, the replay in
:mod:`clientrules.domain.learning.backtest`.
"""

from clientrules.domain.learning.backtest import Backtest, Outcome
from clientrules.domain.learning.history import History
from clientrules.domain.learning.proposals import CANDIDATE_FACTS, Finding, Method, NoProposal
from clientrules.domain.learning.report import REPORT_KEYS, Report

__all__ = [
    "CANDIDATE_FACTS",
    "REPORT_KEYS",
    "Backtest",
    "Finding",
    "History",
    "Method",
    "NoProposal",
    "Outcome",
    "Report",
]
