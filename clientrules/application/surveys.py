"""The survey service behind ``ledger.surveys``: invite departed clients, check links, take answers exactly once.

Single use is the database's job, not the signature's: an answer is appended
with the deterministic event id ``survey-answer:<invitation id>``, so of two
submissions of one link (one after the other, or at the same moment from two
threads or processes) exactly one is stored; the other is told
:class:`~clientrules.domain.survey.errors.LinkUsed`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import uuid
from typing import Any, Mapping, Protocol

import attrs

from clientrules.domain.errors import ClientRulesError, ConcurrencyError, InvalidEvent, UnknownClient
from clientrules.domain.events import (
    ClientOnboarded,
    Clock,
    Event,
    Instant,
    SurveyAnswered,
    SurveyInvited,
    SurveyReminded,
    check_client_id,
)
from clientrules.domain.events.dates import plain_date
from clientrules.domain.facts import ClientFold
from clientrules.domain.facts.status import ClientStatus
from clientrules.domain.survey.errors import (
    LinkExpired,
    LinkSuperseded,
    LinkUnknown,
    LinkUsed,
    NotEligible,
    SurveyError,
)
from clientrules.domain.survey.invitations import (
    ANSWERED,
    EXPIRED,
    OPEN,
    SUPERSEDED,
    Invitation,
    ended_by,
    invitations_of,
    is_email_address,
)
from clientrules.domain.survey.links import DEFAULT_EXPIRY_DAYS, MAX_DAYS, LinkSigner, check_secret
from clientrules.application.owner import OwnerAccount
from clientrules.domain.survey.questionnaire import answered
from clientrules.ports import EventLog, EventStreams, StoredSettings

SECRET_META_KEY = "survey_secret"
#: the setting that tells whose an invitation is (links name only the invitation)
INVITATION_META_KEY = "survey_invitation.{}"
#: how often a submission is retried when another writer appended to the client's stream meanwhile
SUBMIT_ATTEMPTS = 5
SURVEY_TYPES = (SurveyInvited.TYPE, SurveyReminded.TYPE, SurveyAnswered.TYPE)
#: how many links found usable :meth:`Surveys.open_link` remembers (a respondent's POST follows the GET of their form)
OPENED_LINKS_KEPT = 1_000
_LINK_ERRORS = {SUPERSEDED: LinkSuperseded, ANSWERED: LinkUsed, EXPIRED: LinkExpired}


def shared_secret(settings: StoredSettings, given: str | None = None, *, origin: str = "the secret") -> str:
    """The link-signing secret: ``given`` (checked, named ``origin`` in errors), else one generated once and kept in the database.

    There is no default secret: a database gets a random one of its own.
    """
    if given:
        return check_secret(given, origin=origin)
    return settings.put_meta_if_absent(SECRET_META_KEY, secrets.token_urlsafe(32))


#: the events a client's status is made of
_ENDING_TYPES = frozenset({"ClientOnboarded", "NoticeGiven", "RelationshipEnded"})


@attrs.frozen
class OpenLink:
    """A personal link found usable by :meth:`Surveys.open_link`: its invitation, as of the client's stream ``version``.

    :meth:`Surveys.submit` takes it instead of the token, so that a request
    that shows the link's page and then stores the answers reads the client once.
    """

    token: str = attrs.field(repr=False)
    invitation: Invitation
    version: int
    #: what the page asks: ``leaving`` (why the client left) or ``working_with_us`` (we ended it; invited on purpose)
    about: str = "leaving"


class StoreForSurveys(EventStreams, EventLog, StoredSettings, Protocol):
    """What the survey reads and writes: clients' streams, the global log (every invitation) and the settings (the owner account)."""


class Surveys:
    """Exit-survey invitations and answers of one ledger (``ledger.surveys``).

    ::

        invitation = ledger.surveys.invite("acme", email="ann@acme.example")
        print(invitation.url("https://survey.example.com"))
        ledger.surveys.submit(invitation.token, {"primary_reason": "missed_deadlines"})
    """

    def __init__(
        self,
        store: StoreForSurveys,
        *,
        secret: str,
        expiry_days: int = DEFAULT_EXPIRY_DAYS,
        clock: Clock,
    ) -> None:
        if not secret:
            raise ClientRulesError("the survey needs a non-empty signing secret")
        if not 1 <= expiry_days <= MAX_DAYS:
            raise ClientRulesError(f"survey links must stay valid from 1 to {MAX_DAYS} days")
        self._store = store
        self._clock = clock
        self.expiry = dt.timedelta(days=expiry_days)
        self._signer = LinkSigner(secret, max_age=self.expiry, clock=clock)
        self.owner = OwnerAccount(store)
        #: links found usable, by token: one stays usable while its client's stream is at the same version
        self._opened: dict[str, OpenLink] = {}
        self._opened_lock = threading.Lock()  # a web server's threads share the service

    # --- inviting -----------------------------------------------------------------

    def invite(self, client: str, *, email: str | None = None, on_purpose: bool = False) -> Invitation:
        """Invite a client who has left (``ClientFold.status``) and return the new invitation.

        Clients who chose to leave are invited once they have left (a notice
        runs out on its ``effective_on``). A client we ended with is refused
        (:class:`NotEligible`) unless ``on_purpose``: then the questionnaire
        asks how working with us was. The invitation keeps who ended it (``ended_by``).
        Inviting again gives a fresh link and makes the earlier ones unusable.
        Without ``email`` the client's address from ``ClientOnboarded`` is used,
        if there is one. A client who answered already (since they last left)
        is not invited again.
        """
        check_client_id(client)
        if email is not None and not is_email_address(email):
            raise SurveyError(f"{email[:80]!r} is not an e-mail address")
        events = sorted(self._store.read_client(client), key=lambda e: e.version or 0)
        if not events:
            raise UnknownClient(client)
        status = _check_eligible(client, events, self._clock(), on_purpose=on_purpose)
        if email is None:
            email = _known_email(events)
            if email is not None and not is_email_address(email):
                raise SurveyError(
                    f"client {client!r} was onboarded with {email[:80]!r}, which is not an e-mail address: "
                    "give the address to invite them at"
                )
        now = self._now()
        payload = SurveyInvited(
            invitation_id=f"inv-{uuid.uuid4().hex}",
            expires_at=(now + self.expiry).isoformat(),
            email=email,
            ended_by=status.ended_by,
        )
        self._store.put_meta_if_absent(INVITATION_META_KEY.format(payload.invitation_id), client)
        self._store.append([Event.new(client, payload, Instant.from_datetime(now))])
        return self._find(client, payload.invitation_id)

    def remind(self, after_days: int = 7) -> list[Invitation]:
        """Record a reminder for each open invitation whose client was last contacted ``after_days`` ago or more.

        Returns those invitations (to mail the link again). Reminders get
        deterministic ids, so two runs at once remind each client once.
        """
        if isinstance(after_days, bool) or not isinstance(after_days, int) or not 0 <= after_days <= MAX_DAYS:
            raise ClientRulesError(f"reminders need a whole number of days after the last contact, from 0 to {MAX_DAYS}")
        now = self._now()
        cutoff = now - dt.timedelta(days=after_days)
        due = [i for i in self.invitations() if i.status == OPEN and i.last_contact.utc <= cutoff]
        at = Instant.from_datetime(now)
        reminded = []
        for invitation in due:
            reminder = Event.new(
                invitation.client,
                SurveyReminded(invitation_id=invitation.invitation_id),
                at,
                id=f"survey-reminder:{invitation.invitation_id}:{len(invitation.reminded_at) + 1}",
            )
            if self._store.append([reminder]).stored:  # else another run reminded this client just now
                reminded.append(self._find(invitation.client, invitation.invitation_id))
        return reminded

    # --- answering ----------------------------------------------------------------

    def open(self, token: str) -> Invitation:
        """The open invitation a link names; raises a :class:`~clientrules.domain.survey.errors.LinkError` otherwise.

        Opening changes nothing: a mail scanner that follows the link does not use it up.
        """
        return self.open_link(token).invitation

    def open_link(self, token: str) -> OpenLink:
        """Like :meth:`open`, with what :meth:`submit` needs to store the answers without reading the client again.

        The token's signature and age are checked every time; a link found
        usable before is then usable still if nothing was appended to its
        client's stream since (no answer, no new invitation, no erasure) and
        it has not expired meanwhile, which one version number tells.
        """
        invitation_id, client = self._signer.read(token)
        with self._opened_lock:
            known = self._opened.pop(token, None)
        if known is not None and self._store.client_version(known.invitation.client) == known.version:
            if self._clock() >= known.invitation.expires_at:
                raise LinkExpired()
            opened = known
        else:
            opened = self._read_link(token, invitation_id, client)
        with self._opened_lock:
            while len(self._opened) >= OPENED_LINKS_KEPT:
                del self._opened[next(iter(self._opened))]
            self._opened[token] = opened
        return opened

    def forget(self, client: str) -> None:
        """Drop the links of ``client`` remembered by :meth:`open_link` (after its erasure: its e-mail address does
        not stay in this process's memory until they would be pushed out)."""
        with self._opened_lock:
            for token in [token for token, link in self._opened.items() if link.invitation.client == client]:
                del self._opened[token]

    def _read_link(self, token: str, invitation_id: str, client: str | None) -> OpenLink:
        """The link's invitation as the client's stream has it now, if it is open."""
        if client is None:
            client = self._client_invited(invitation_id)
        try:
            events = self._store.read_client(check_client_id(client))
        except InvalidEvent:
            raise LinkUnknown() from None
        invitation = _by_id(invitations_of(events, now=self._clock().utc, token_of=self._signer.token), invitation_id)
        if invitation is None:
            raise LinkUnknown()
        if invitation.status != OPEN:
            raise _LINK_ERRORS[invitation.status]()
        about = "working_with_us" if ended_by(events) == "us" else "leaving"
        return OpenLink(token, invitation, version=max((e.version or 0 for e in events), default=0), about=about)

    def submit(self, link: str | OpenLink, answers: Mapping[str, Any]) -> Event:
        """Validate ``answers`` and append them as the link's one ``SurveyAnswered`` event; return it as stored.

        ``link`` is a token, or what :meth:`open_link` returned for it.
        Raises :class:`~clientrules.domain.survey.errors.LinkError` if the link cannot
        be used (a second submission gets :class:`LinkUsed`) and
        :class:`~clientrules.domain.survey.errors.InvalidAnswers` for bad answers;
        either way nothing is stored.
        """
        opened = self.open_link(link) if isinstance(link, str) else link
        for attempt in range(SUBMIT_ATTEMPTS):
            if attempt:
                opened = self.open_link(opened.token)
            invitation = opened.invitation
            if self._clock() >= invitation.expires_at:
                raise LinkExpired()
            payload = answered(invitation.invitation_id, answers, about=opened.about)
            event = Event.new(
                invitation.client,
                payload,
                Instant.from_datetime(self._now()),
                id=f"survey-answer:{invitation.invitation_id}",
            )
            try:
                # expected_version: anything appended since the link was checked (a re-invitation) makes us check again
                result = self._store.append([event], expected_version=opened.version)
            except ConcurrencyError:
                continue
            if not result.stored:
                raise LinkUsed()
            return result.stored_event(event)
        raise SurveyError("the answers could not be saved because the record kept changing; please submit again")

    # --- reading ------------------------------------------------------------------

    def invitations(self, client: str | None = None) -> list[Invitation]:
        """Every invitation (of one client, or of all), oldest first, with its current status."""
        return invitations_of(self._survey_events(client), now=self._clock().utc, token_of=self._signer.token)

    def uninvited(self) -> list[str]:
        """Clients who chose to leave, have left by now and were not invited since, in the order they left
        (clients we ended with are invited only on purpose)."""
        relationship: dict[str, list[Event]] = {}
        ended: set[str] = set()
        invited: dict[str, list[Event]] = {}
        for event in self._store.iter_types(_ENDING_TYPES | {SurveyInvited.TYPE}):
            if isinstance(event.payload, SurveyInvited):
                invited.setdefault(event.client, []).append(event)
            else:
                relationship.setdefault(event.client, []).append(event)
                if not isinstance(event.payload, ClientOnboarded):
                    ended.add(event.client)
        now = self._clock()
        departed: list[tuple[dt.date, str]] = []
        for client in ended:  # only they can have left: the others' onboardings are not folded
            fold = ClientFold()
            fold.apply_all(relationship[client])
            status = fold.status(now)
            if not status.is_left or not status.client_chose or status.on is None:
                continue
            decided = status.decided_on or status.on
            if not any(e.at.date >= decided for e in invited.get(client, ())):
                departed.append((status.on, client))
        return [client for _, client in sorted(departed)]

    def answers(self, client: str | None = None) -> list[Event]:
        """Every ``SurveyAnswered`` event (of one client, or of all), in the order they were stored."""
        events = [e for e in self._survey_events(client) if isinstance(e.payload, SurveyAnswered)]
        return sorted(events, key=lambda e: e.position or 0)

    # --- helpers ------------------------------------------------------------------

    def _survey_events(self, client: str | None) -> list[Event]:
        if client is not None:
            return [e for e in self._store.read_client(client) if e.type in SURVEY_TYPES]
        return list(self._store.iter_types(SURVEY_TYPES))

    def _client_invited(self, invitation_id: str) -> str:
        """The client of a genuine link's invitation: from the settings, else (an invitation stored before
        they said, or imported) from the events, remembered for next time; :class:`LinkUnknown` if none."""
        key = INVITATION_META_KEY.format(invitation_id)
        client = self._store.get_meta(key)
        if client is not None:
            return client
        for event in self._store.iter_types([SurveyInvited.TYPE]):
            if isinstance(event.payload, SurveyInvited) and event.payload.invitation_id == invitation_id:
                return self._store.put_meta_if_absent(key, event.client)
        raise LinkUnknown()

    def _find(self, client: str, invitation_id: str) -> Invitation:
        found = _by_id(self.invitations(client), invitation_id)
        assert found is not None, "an invitation just stored is readable"
        return found

    def _now(self) -> dt.datetime:
        """The clock's time to the second (links carry whole seconds)."""
        return self._clock().utc.replace(microsecond=0)


def _by_id(invitations: list[Invitation], invitation_id: str) -> Invitation | None:
    return next((i for i in invitations if i.invitation_id == invitation_id), None)


def _check_eligible(client: str, events: list[Event], now: Instant, *, on_purpose: bool) -> ClientStatus:
    """The client's status, or :class:`NotEligible` unless it has left, chose to (or ``on_purpose``),
    and has not answered since (``events`` in version order)."""
    fold = ClientFold()
    fold.apply_all(events)
    status = fold.status(now)
    if status.is_leaving and status.on is not None:
        raise NotEligible(
            f"client {client!r} has given notice and leaves on {plain_date(status.on)}: invite them once they have left"
        )
    if not status.is_left or status.on is None:
        raise NotEligible(
            f"client {client!r} has no RelationshipEnded event and no notice that has run out: only clients who have left are invited"
        )
    if not status.client_chose and not on_purpose:
        raise NotEligible(
            f"client {client!r} did not choose to leave (we ended it on {plain_date(status.on)}), so it is not asked why; "
            f"to ask how working with us was, invite it on purpose: clientrules survey invite {client} --on-purpose"
        )
    # ``events`` are in version order: answers stored after the notice or ending that made the client leave
    since = next((e.version or 0 for e in events if e.id == status.event_id), 0)
    answers = [e for e in events if isinstance(e.payload, SurveyAnswered) and (e.version or 0) > since]
    if answers:
        raise NotEligible(f"client {client!r} already answered the exit survey on {answers[-1].at.date}")
    return status


def _known_email(events: list[Event]) -> str | None:
    emails = [e.payload.email for e in events if isinstance(e.payload, ClientOnboarded) and e.payload.email]
    return emails[-1] if emails else None
