"""clientrules: keep, renegotiate, refer out or terminate clients, and learn from those you lose.

The front door is :class:`Ledger`::

    from clientrules import Ledger, InvoiceIssued

    with Ledger.open("clients.db") as ledger:
        ledger.record("acme", InvoiceIssued(invoice_id="A-1", amount=900.0, due_on="2026-03-31"), "2026-03-01")
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from clientrules.domain import events
from clientrules.domain.errors import (
    ClientRulesError,
    ConcurrencyError,
    InvalidEvent,
    InvalidInput,
    InvalidRuleSet,
    StoreError,
    UnknownClient,
)
from clientrules.domain.events import (
    Event,
    Instant,
    Payload,
    SPEC_TYPES,
    as_instant,
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
from clientrules.ledger import Ledger
from clientrules.ports import AppendResult, ClientSummary, EventStore
from clientrules.adapters.store import open_store

try:
    __version__ = _version("clientrules")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "AppendResult",
    "as_instant",
    "ClientMessageReceived",
    "ClientOnboarded",
    "ClientReferredOut",
    "ClientReplied",
    "ClientRulesError",
    "ClientSummary",
    "ConcurrencyError",
    "ContractBreached",
    "ContractSigned",
    "DeadlineMissed",
    "DecisionChanged",
    "DecisionRecorded",
    "DepositReceived",
    "DepositRequested",
    "Event",
    "events",
    "EventStore",
    "FollowUpSent",
    "IncidentReported",
    "Instant",
    "InvalidEvent",
    "InvalidInput",
    "InvalidRuleSet",
    "InvoiceIssued",
    "InvoiceVoided",
    "LEARNING_STREAM",
    "Ledger",
    "MeetingHeld",
    "NeedOutgrown",
    "NoticeGiven",
    "open_store",
    "Payload",
    "PaymentReceived",
    "PersonalDataErased",
    "PlanAgreed",
    "ProposalDecided",
    "REASON_CODES",
    "RelationshipEnded",
    "ReplySent",
    "RULES_STREAM",
    "RuleSetAdopted",
    "ScopeChangeRequested",
    "SPEC_TYPES",
    "StoreError",
    "SurveyAnswered",
    "SurveyInvited",
    "SurveyReminded",
    "SYSTEM_TYPES",
    "TermsRenegotiated",
    "UnknownClient",
    "WorkLogged",
]
