"""The learning loop: what departed clients said, what their logs showed, and which rules to change.

``ledger.learning`` (:class:`Learning`): ``report()``, ``proposals()``,
``accept(id)``, ``reject(id)``, ``backtest(ruleset_text=None)``. The method
behind proposals is in :mod:`clientrules.learning.proposals`, the replay in
:mod:`clientrules.learning.backtest`.
"""

from clientrules.learning.backtest import Backtest, Outcome
from clientrules.learning.history import History
from clientrules.learning.proposals import CANDIDATE_FACTS, Finding, Method, NoProposal
from clientrules.learning.report import REPORT_KEYS, Report
from clientrules.learning.service import Decided, Learning, Proposal, Proposals, UnknownProposal

__all__ = [
    "CANDIDATE_FACTS",
    "REPORT_KEYS",
    "Backtest",
    "Decided",
    "Finding",
    "History",
    "Learning",
    "Method",
    "NoProposal",
    "Outcome",
    "Proposal",
    "Proposals",
    "Report",
    "UnknownProposal",
]
