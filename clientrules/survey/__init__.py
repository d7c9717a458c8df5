"""The exit survey (``ledger.surveys``): personal links for departed clients, the questionnaire, its answers.

No web framework here: the Flask app (``survey_app``) and the CLI call
:class:`Surveys`, which keeps everything as events in the clients' streams.
"""

from clientrules.survey.errors import (
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
from clientrules.survey.invitations import ANSWERED, EXPIRED, OPEN, SUPERSEDED, Invitation
from clientrules.survey.owner import OwnerAccount
from clientrules.survey.questionnaire import (
    FIELDS,
    MAX_TEXT,
    RATING_SCALE,
    RATINGS,
    REASON_LABELS,
    RECOMMEND_SCALE,
    WOULD_RETURN,
)
from clientrules.survey.service import OpenLink, Surveys, is_email_address, shared_secret

__all__ = [
    "ANSWERED",
    "EXPIRED",
    "FIELDS",
    "InvalidAnswers",
    "Invitation",
    "LinkError",
    "LinkExpired",
    "LinkSuperseded",
    "LinkUnknown",
    "LinkUsed",
    "MAX_TEXT",
    "NotEligible",
    "OPEN",
    "OpenLink",
    "OwnerAccount",
    "OwnerPasswordError",
    "RATINGS",
    "RATING_SCALE",
    "REASON_LABELS",
    "RECOMMEND_SCALE",
    "SUPERSEDED",
    "SurveyError",
    "Surveys",
    "WOULD_RETURN",
    "is_email_address",
    "shared_secret",
]
