"""What :mod:`clientrules` exports (see its docstring), imported when a program first uses one of its names."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from clientrules.domain import events
from clientrules.domain.errors import (
    ClientRulesError,
    ConcurrencyError,
    EngineError,
    InvalidEvent,
    InvalidInput,
    InvalidRuleSet,
    StoreError,
    UnknownClient,
)
from clientrules.domain.events import (
    ERASED,
    Event,
    Instant,
    Payload,
    Registry,
    SPEC_TYPES,
    as_instant,
    check_client_id,
    client_id_from_name,
    moment_or_now,
    registry,
    LEARNING_STREAM,
    REASON_CODES,
    RULES_STREAM,
    SYSTEM_TYPES,
    DecisionChanged,
    DecisionRecorded,
    SurveyInvited,
    SurveyReminded,
    SurveyAnswered,
    PersonalDataErased,
    RuleSetAdopted,
    ProposalDecided,
    ClientOnboarded,
    ContractSigned,
    NoticeGiven,
    RelationshipEnded,
    ClientReferredOut,
    InvoiceIssued,
    PaymentReceived,
    InvoiceVoided,
    DepositRequested,
    DepositReceived,
    WorkLogged,
    ScopeChangeRequested,
    DeadlineMissed,
    FollowUpSent,
    ClientReplied,
    ClientMessageReceived,
    ReplySent,
    MeetingHeld,
    PlanAgreed,
    TermsRenegotiated,
    IncidentReported,
    ContractBreached,
    NeedOutgrown,
)
from clientrules.domain.events.types import CHOICES, DATA_KEY
from clientrules.domain.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, Change
from clientrules.domain.alerts import verify as verify_signature
from clientrules.domain.alerts.digest import verdict_words
from clientrules.domain.decisions import Decision, Reason
from clientrules.domain.decisions.explanation import Explanation
from clientrules.domain.decisions.words import FACT_WORDS
from clientrules.domain.drafts import DRAFT_NAMES, Drafts, default_drafts, plain_date
from clientrules.domain.facts import FACTS, Facts, facts_of
from clientrules.domain.importing import PRESETS, ImportPlan, ImportRefused, preset_text
from clientrules.domain.money import (
    NUMBER_FORMATS,
    MoneyRefused,
    OpenInvoice,
    client_currency,
    format_money,
    in_number_format,
    open_invoices,
)
from clientrules.domain.facts.status import ClientStatus
from clientrules.domain.learning.backtest import Backtest, describe as describe_backtest
from clientrules.domain.learning.report import Report, proposals_text
from clientrules.domain.next_steps import NextSteps, Step
from clientrules.domain.privacy import Erasure
from clientrules.domain.rules import RuleSet, RuleSetProblems, parse_ruleset, ruleset_to_toml
from clientrules.domain.rules.format import MAX_GRACE_DAYS
from clientrules.domain.rules.limits import SOURCE_BYTES
from clientrules.domain.rules.model import SEVERITY, VERDICTS
from clientrules.domain.survey import (
    FIELDS as SURVEY_FIELDS,
    FIRST_THOUGHT_LABELS,
    is_email_address,
    MAX_DAYS,
    MAX_MOVED_TO,
    RATING_SCALE,
    RATINGS,
    REASON_LABELS,
    REASON_ORDER,
    RECOMMEND_SCALE,
    WOULD_RETURN,
    InvalidAnswers,
    Invitation,
    LinkError,
    LinkExpired,
    LinkSuperseded,
    LinkUnknown,
    LinkUsed,
    NotEligible,
    SurveyError,
)
from clientrules.ports import AppendResult, ClientSummary, Delivery, DeliveryRow, WatchCheckpoint
from clientrules.application.alerts import DeliveryReport, Handler, PassReport
from clientrules.application.evaluation_queue import DEFAULT_BATCH, WorkerReport, run_worker
from clientrules.application.learning import Decided, Proposal, Proposals, UnknownProposal
from clientrules.application.next_steps import MissingAnswers, StepAnswers, UnknownStep
from clientrules.application.owner import OwnerSession
from clientrules.application.progress import Progress, Tracker
from clientrules.application.portfolio import (
    SORTS,
    STAGES,
    PortfolioPage,
    PortfolioQuery,
    Standing,
    Total,
    VerdictAt,
    stage_of,
)
from clientrules.application.rule_changes import ChangedDecision, RulePreview
from clientrules.application.rule_versions import RuleSetVersion, UnknownRuleSetVersion
from clientrules.application.survey_mail import Sent
from clientrules.application.system_streams import REPAIR
from clientrules.config import LOGO_TYPES, Settings, SettingsError, database_url, load_settings, other_keys
from clientrules.wiring import (
    DatabaseStatus,
    Migration,
    PendingMigration,
    QueueStatus,
    database_status,
    is_postgres,
    migrate_database,
)
from clientrules.ledger import Ledger

try:
    __version__ = _version("clientrules")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

#: the longest rule-set file (bytes of text) the engine is trusted with
MAX_RULESET_BYTES = SOURCE_BYTES.allowed

__all__ = [
    "__version__",
    # importing CSV exports
    "PRESETS",
    "ImportPlan",
    "client_id_from_name",
    "preset_text",
    # money as an owner reads it
    "OpenInvoice",
    "client_currency",
    "format_money",
    "in_number_format",
    "NUMBER_FORMATS",
    "open_invoices",
    # the ledger, the database's upkeep and the settings
    "Ledger",
    "migrate_database",
    "database_status",
    "is_postgres",
    "Migration",
    "PendingMigration",
    "DatabaseStatus",
    "QueueStatus",
    "Settings",
    "SettingsError",
    "load_settings",
    "database_url",
    "other_keys",
    "LOGO_TYPES",
    # what the services return
    "AppendResult",
    "ClientSummary",
    "Erasure",
    "Decision",
    "ClientStatus",
    "Reason",
    "Explanation",
    "Facts",
    "RuleSet",
    "RuleSetVersion",
    "RulePreview",
    "ChangedDecision",
    "NextSteps",
    "Step",
    "StepAnswers",
    "Drafts",
    "Invitation",
    "Sent",
    "Delivery",
    "OwnerSession",
    "Standing",
    "Total",
    "PortfolioQuery",
    "PortfolioPage",
    "Progress",
    "Tracker",
    "VerdictAt",
    "Change",
    "PassReport",
    "DeliveryReport",
    "DeliveryRow",
    "WatchCheckpoint",
    "Handler",
    "Report",
    "Backtest",
    "Proposals",
    "Proposal",
    "Decided",
    "WorkerReport",
    # events
    "events",
    "Event",
    "Instant",
    "as_instant",
    "moment_or_now",
    "check_client_id",
    "client_id_from_name",
    "is_email_address",
    "Payload",
    "Registry",
    "registry",
    "CHOICES",
    "DATA_KEY",
    "ERASED",
    "SPEC_TYPES",
    "SYSTEM_TYPES",
    "REASON_CODES",
    "LEARNING_STREAM",
    "RULES_STREAM",
    "ClientMessageReceived",
    "ClientOnboarded",
    "ClientReferredOut",
    "ClientReplied",
    "ContractBreached",
    "ContractSigned",
    "DeadlineMissed",
    "DecisionChanged",
    "DecisionRecorded",
    "DepositReceived",
    "DepositRequested",
    "FollowUpSent",
    "IncidentReported",
    "InvoiceIssued",
    "InvoiceVoided",
    "MeetingHeld",
    "NeedOutgrown",
    "NoticeGiven",
    "PaymentReceived",
    "PersonalDataErased",
    "PlanAgreed",
    "ProposalDecided",
    "RelationshipEnded",
    "ReplySent",
    "RuleSetAdopted",
    "ScopeChangeRequested",
    "SurveyAnswered",
    "SurveyInvited",
    "SurveyReminded",
    "TermsRenegotiated",
    "WorkLogged",
    # errors
    "ClientRulesError",
    "ConcurrencyError",
    "EngineError",
    "InvalidAnswers",
    "InvalidEvent",
    "InvalidInput",
    "MoneyRefused",
    "ImportRefused",
    "InvalidRuleSet",
    "LinkError",
    "LinkExpired",
    "LinkSuperseded",
    "LinkUnknown",
    "LinkUsed",
    "MissingAnswers",
    "NotEligible",
    "RuleSetProblems",
    "StoreError",
    "SurveyError",
    "UnknownClient",
    "UnknownProposal",
    "UnknownRuleSetVersion",
    "UnknownStep",
    # rules, facts and their words
    "parse_ruleset",
    "ruleset_to_toml",
    "facts_of",
    "FACTS",
    "FACT_WORDS",
    "VERDICTS",
    "SEVERITY",
    "MAX_GRACE_DAYS",
    "MAX_RULESET_BYTES",
    "DRAFT_NAMES",
    "default_drafts",
    "plain_date",
    "verdict_words",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "verify_signature",
    "describe_backtest",
    "proposals_text",
    # the exit survey's questionnaire
    "SURVEY_FIELDS",
    "RATINGS",
    "RATING_SCALE",
    "RECOMMEND_SCALE",
    "REASON_LABELS",
    "REASON_ORDER",
    "FIRST_THOUGHT_LABELS",
    "MAX_MOVED_TO",
    "WOULD_RETURN",
    "MAX_DAYS",
    # the portfolio's stages, the workers
    "STAGES",
    "SORTS",
    "stage_of",
    "DEFAULT_BATCH",
    "run_worker",
    "REPAIR",
]
