"""The exit survey (``ledger.surveys``): personal links for departed clients, the questionnaire, its answers.

No web framework here: the Flask app (``survey_app``) and the CLI call
:class:`Surveys`, which keeps everything as events in the clients' streams.
"""

from clientrules.domain.survey.errors import (
    InvalidAnswers,
    LinkError,
    LinkExpired,
    LinkSuperseded,
    LinkUnknown,
    LinkUsed,
    NotEligible,
    OwnerPasswordError,
    SurveyError,
)
from clientrules.domain.survey.invitations import (
    ANSWERED,
    EXPIRED,
    OPEN,
    SUPERSEDED,
    Invitation,
    ended_by,
    is_email_address,
)
from clientrules.domain.survey.links import DEFAULT_EXPIRY_DAYS, MAX_DAYS, check_secret
from clientrules.domain.survey.questionnaire import (
    FIELDS,
    FIRST_THOUGHT_LABELS,
    MAX_MOVED_TO,
    MAX_TEXT,
    QUESTIONNAIRE_VERSION,
    RATING_SCALE,
    RATINGS,
    REASON_LABELS,
    REASON_ORDER,
    RECOMMEND_SCALE,
    WOULD_RETURN,
)

__all__ = [
    "ANSWERED",
    "DEFAULT_EXPIRY_DAYS",
    "EXPIRED",
    "FIELDS",
    "FIRST_THOUGHT_LABELS",
    "InvalidAnswers",
    "Invitation",
    "LinkError",
    "LinkExpired",
    "LinkSuperseded",
    "LinkUnknown",
    "LinkUsed",
    "MAX_DAYS",
    "MAX_MOVED_TO",
    "MAX_TEXT",
    "NotEligible",
    "OPEN",
    "OwnerPasswordError",
    "QUESTIONNAIRE_VERSION",
    "RATINGS",
    "RATING_SCALE",
    "REASON_LABELS",
    "REASON_ORDER",
    "RECOMMEND_SCALE",
    "SUPERSEDED",
    "SurveyError",
    "WOULD_RETURN",
    "check_secret",
    "ended_by",
    "is_email_address",
]
