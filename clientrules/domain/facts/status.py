"""Where a client stands at a moment: active, leaving (a notice runs) or left.

One definition for every part of the library (decisions, next steps, the
dashboard, alerts, portfolio totals, survey invitations):

* **leaving** from a ``NoticeGiven`` (by us or the client) until its
  ``effective_on`` (00:00 UTC of that date);
* **left** from a ``RelationshipEnded``, or from the ``effective_on`` of a
  notice once that moment is reached;
* **active** otherwise. A ``ClientOnboarded`` after an ending starts the
  relationship again: only notices and endings after the latest
  ``ClientOnboarded`` count.

When a notice and a ``RelationshipEnded`` both apply, the earlier ending
wins; the latest notice replaces an earlier one (a new effective date). A
second ``RelationshipEnded`` means the client came back and left again: the
latest ending counts, with the notices given since the one before.
"""

from __future__ import annotations

import datetime as dt

import attrs

ACTIVE, LEAVING, LEFT = "active", "leaving", "left"
STATUSES = (ACTIVE, LEAVING, LEFT)


@attrs.frozen
class ClientStatus:
    """``state`` (``active``, ``leaving``, ``left``) and, unless active, what made it so.

    ``on`` is the date the client left or will leave; ``ended_by`` who chose
    the ending (``"us"`` or ``"client"``: the notice's ``by`` when a notice
    came first, else the ``RelationshipEnded``'s ``initiated_by``);
    ``decided_on`` the date that side decided (the notice, else the ending);
    ``event_id`` the notice or ending behind it.
    """

    state: str = ACTIVE
    on: dt.date | None = None
    ended_by: str | None = None
    decided_on: dt.date | None = None
    event_id: str | None = None

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE

    @property
    def is_leaving(self) -> bool:
        return self.state == LEAVING

    @property
    def is_left(self) -> bool:
        return self.state == LEFT

    @property
    def client_chose(self) -> bool:
        """The client chose to end it (a notice or an ending of theirs)."""
        return self.ended_by == "client"


NOT_ENDED = ClientStatus()
