"""The types to annotate with: the services a :class:`~clientrules.Ledger` hands out, the ports, and aliases.

In the spirit of ``structlog.typing``: nothing here is needed at run time,
and nothing here is a result of a call (those are importable from
:mod:`clientrules` itself)::

    from clientrules.types import Decisions, Moment

    def decide_all(decisions: Decisions, as_of: Moment) -> None: ...
"""

from clientrules.adapters.report import ReportRenderer
from clientrules.application.alerts import Channel, Watcher
from clientrules.application.csv_import import CsvImportResult, CsvImports
from clientrules.application.decisions import Decisions
from clientrules.application.evaluation_queue import EvaluationQueue, WorkQueue
from clientrules.application.folds import Folds
from clientrules.application.learning import Learning
from clientrules.application.next_steps import NextStepsService
from clientrules.application.owner import OwnerAccount
from clientrules.application.portfolio import Portfolio, Sort
from clientrules.application.rule_changes import RuleChanges
from clientrules.application.rule_versions import RuleVersions
from clientrules.application.survey_mail import SurveyMail
from clientrules.application.surveys import Surveys
from clientrules.domain.events import Clock, Moment
from clientrules.domain.rules.model import FactValue
from clientrules.ports import (
    ClientQueries,
    DecisionEngine,
    DeliveryStore,
    EngineAnswersStore,
    EngineFactory,
    EventLog,
    EventStore,
    EventStreams,
    FactsStore,
    FoldStore,
    InvitationSender,
    KeptMomentsStore,
    KeyStore,
    Mailer,
    StandingsStore,
    StoredSettings,
    WatchStore,
)

__all__ = [
    # the services
    "CsvImportResult",
    "CsvImports",
    "Decisions",
    "EvaluationQueue",
    "Folds",
    "Learning",
    "NextStepsService",
    "OwnerAccount",
    "Portfolio",
    "ReportRenderer",
    "RuleChanges",
    "RuleVersions",
    "SurveyMail",
    "Surveys",
    "Watcher",
    # the ports
    "Channel",
    "ClientQueries",
    "Clock",
    "DecisionEngine",
    "DeliveryStore",
    "EngineAnswersStore",
    "EngineFactory",
    "EventLog",
    "EventStore",
    "EventStreams",
    "FactsStore",
    "FoldStore",
    "InvitationSender",
    "KeptMomentsStore",
    "KeyStore",
    "Mailer",
    "StandingsStore",
    "StoredSettings",
    "WatchStore",
    "WorkQueue",
    # aliases
    "FactValue",
    "Moment",
    "Sort",
]
