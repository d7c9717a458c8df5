"""What can go wrong with a survey link, an invitation or an answer (one-line messages fit for users).

Link errors never name the client: the page a stranger sees for a forged or
old link must not reveal whose link it was.
"""

from __future__ import annotations

from typing import Mapping

from clientrules.domain.errors import ClientRulesError


class SurveyError(ClientRulesError):
    """Base class of the survey's errors."""


class LinkError(SurveyError):
    """A survey link cannot be used; ``gone`` tells a link that existed (HTTP 410) from one that never did (404)."""

    gone = True


class LinkUnknown(LinkError):
    gone = False

    def __init__(self) -> None:
        super().__init__("this survey link is not valid: check that it was copied completely")


class LinkExpired(LinkError):
    def __init__(self) -> None:
        super().__init__("this survey link has expired")


class LinkUsed(LinkError):
    def __init__(self) -> None:
        super().__init__("this survey has already been answered; thank you")


class LinkSuperseded(LinkError):
    def __init__(self) -> None:
        super().__init__("this survey link was replaced by a newer one: please use the most recent invitation")


class NotEligible(SurveyError):
    """The client cannot be invited (no ``RelationshipEnded`` yet, or answered already)."""


class InvalidAnswers(SurveyError):
    """Some answers are not valid; ``errors`` maps each field name to its problem. Nothing was stored."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in self.errors.items()))


class OwnerPasswordError(SurveyError):
    """The owner password cannot be set (too short, ...)."""
