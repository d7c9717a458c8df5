"""The learning report: why clients left, what their logs showed before, and what the rules should learn.

:func:`build_report` gathers everything into plain JSON-able data (the keys of
:data:`REPORT_KEYS` are stable: scripts read ``clientrules report --json``);
:meth:`Report.to_text` and :func:`clientrules.adapters.report.html.render_html`
present that same data.

Report keys:

``schema``
    1 (raised only if a key changes meaning).
``period``
    ``first``/``last``: dates of the first and last client event.
``summary``
    ``clients``, ``retained``, ``departed``, ``answered`` (departed clients who
    answered the exit survey), ``flagged_before_leaving`` (by the rule set in
    force at the time), ``lost_monthly_value`` (sum of ``monthly_value`` of
    departed clients, where known), ``ruleset_version`` (current).
``reasons``
    one entry per cited reason code, most cited first: ``code``, ``label``,
    ``primary``, ``contributing``, ``lost_monthly_value`` (of the clients citing it as primary).
``by_quarter``
    one entry per quarter with departures: ``quarter`` (``2025-Q3``),
    ``departures``, ``answered``, ``lost_monthly_value``, ``primary`` (code -> count).
``ratings``
    one entry per rating field: ``field``, ``label``, ``average`` (null without answers), ``answers``.
``recommend``
    ``answers``, ``average``, ``promoters`` (9-10), ``passives`` (7-8),
    ``detractors`` (0-6), ``nps`` (% promoters - % detractors, null without answers),
    ``distribution`` (11 counts, for 0 to 10).
``would_return``
    ``yes``, ``maybe``, ``no``: counts.
``answers``
    the free-text answers: ``client``, ``answered_on``, ``primary_reason``, ``text`` (raw: escape it to show it).
``departed_clients``
    one entry per departure, in date order: ``client``, ``departed_on``,
    ``initiated_by``, ``monthly_value``, ``answered``, ``primary_reason``,
    ``other_reasons``, ``facts_before`` (``as_of`` and the warning facts above
    zero ``lead_days`` before leaving), ``signals_before`` (rules that fired at
    the last monthly check before leaving), ``flagged`` (bool),
    ``first_flagged``, ``lead_days``, ``flagged_verdict``, ``flagged_by``,
    ``flagged_ruleset_version``.
``proposals``, ``not_proposed``, ``decided``, ``method``
    as ``clientrules proposals --json``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any, Iterable

import attrs

from clientrules.domain.learning.backtest import Decided, Flag, Replayed
from clientrules.domain.learning.evidence import DepartedClient, Evidence
from clientrules.domain.learning.history import days_before
from clientrules.domain.learning.proposals import CANDIDATE_FACTS
from clientrules.domain.learning.reasons import LABELS
from clientrules.domain.survey.questionnaire import RATINGS

SCHEMA = 1
REPORT_KEYS = (
    "schema",
    "period",
    "summary",
    "reasons",
    "by_quarter",
    "ratings",
    "recommend",
    "would_return",
    "answers",
    "departed_clients",
    "proposals",
    "not_proposed",
    "decided",
    "method",
)
#: Facts shown for a departed client when above zero: the warning facts, and the client-side ones the playbook uses.
WARNING_FACTS = (*(fact for fact, op in CANDIDATE_FACTS if op == ">="), "severe_staff_incidents_365d", "contract_breaches_365d", "needs_outgrown_365d")


@attrs.frozen
class Report:
    """The learning report as data (:data:`REPORT_KEYS`), with a plain-text form
    (:func:`clientrules.adapters.report.html.render_html` draws the HTML one)."""

    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data

    def to_text(self) -> str:
        return "\n".join(_text_lines(self.data)) + "\n"


def build_report(evidence: Evidence, in_force: Replayed, proposals: Any) -> Report:
    """Gather the report from the evidence, the replay under the versions in force, and the current proposals."""
    lead_days = evidence.lead_days
    departed = evidence.departed
    answered = [d for d in departed if d.departure.answer is not None]
    answers = [a for a in (d.departure.answer for d in answered) if a is not None]
    timeframe = evidence.timeframe
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "period": {
            "first": timeframe.start.date.isoformat() if timeframe.start else None,
            "last": timeframe.end.date.isoformat() if timeframe.end else None,
        },
        "summary": {
            "clients": evidence.clients,
            "retained": len(evidence.retained),
            "departed": len(departed),
            "answered": len(answered),
            "flagged_before_leaving": len(in_force.outcome.flagged),
            "lost_monthly_value": _total(d.monthly_value for d in departed),
            "ruleset_version": proposals.ruleset_version,
        },
        "reasons": _reasons(answered),
        "by_quarter": _by_quarter(departed),
        "ratings": [
            {"field": field, "label": label, **_average([getattr(a, field) for a in answers])}
            for field, label in RATINGS.items()
        ],
        "recommend": _recommend([a.recommend for a in answers if a.recommend is not None]),
        "would_return": {choice: sum(a.would_return == choice for a in answers) for choice in ("yes", "maybe", "no")},
        "answers": [written for written in map(_written_answer, answered) if written is not None],
        "departed_clients": [
            _departed_client(d, *in_force.departed.get(d.client, (None, None)), lead_days) for d in departed
        ],
    }
    data.update(proposals.to_json())
    return Report({key: data[key] for key in REPORT_KEYS})


def _written_answer(client: DepartedClient) -> dict[str, Any] | None:
    """A departed client's answer to "what could we have done differently?", if it wrote one."""
    answer, at = client.departure.answer, client.departure.answered_at
    if answer is None or at is None or not answer.what_to_change:
        return None
    return {
        "client": client.client,
        "answered_on": at.date.isoformat(),
        "primary_reason": answer.primary_reason,
        "text": answer.what_to_change,
    }


def _total(values: Iterable[float | None]) -> float:
    return round(sum(v for v in values if v is not None), 2)


def _quarter(client: DepartedClient) -> str:
    day = client.departure.at.date
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _reasons(answered: list[Any]) -> list[dict[str, Any]]:
    primary = Counter(r.departure.answer.primary_reason for r in answered)
    contributing = Counter(reason for r in answered for reason in r.departure.reasons[1:])
    codes = sorted(set(primary) | set(contributing), key=lambda c: (-primary[c], -contributing[c], c))
    return [
        {
            "code": code,
            "label": LABELS[code],
            "primary": primary[code],
            "contributing": contributing[code],
            "lost_monthly_value": _total(r.monthly_value for r in answered if r.departure.answer.primary_reason == code),
        }
        for code in codes
    ]


def _by_quarter(departed: Iterable[DepartedClient]) -> list[dict[str, Any]]:
    quarters: dict[str, list[Any]] = {}
    for record in departed:
        quarters.setdefault(_quarter(record), []).append(record)
    return [
        {
            "quarter": quarter,
            "departures": len(records),
            "answered": sum(r.departure.answer is not None for r in records),
            "lost_monthly_value": _total(r.monthly_value for r in records),
            "primary": dict(
                sorted(Counter(r.departure.answer.primary_reason for r in records if r.departure.answer).items())
            ),
        }
        for quarter, records in sorted(quarters.items())
    ]


def _average(values: list[int | None]) -> dict[str, Any]:
    given = [v for v in values if v is not None]
    return {"average": round(statistics.fmean(given), 2) if given else None, "answers": len(given)}


def _recommend(scores: list[int]) -> dict[str, Any]:
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return {
        **_average(list(scores)),
        "promoters": promoters,
        "passives": len(scores) - promoters - detractors,
        "detractors": detractors,
        "nps": round(100 * (promoters - detractors) / len(scores)) if scores else None,
        "distribution": [scores.count(score) for score in range(11)],
    }


def _departed_client(client: DepartedClient, flag: Flag | None, last: Decided | None, lead_days: int) -> dict[str, Any]:
    departure = client.departure
    return {
        "client": client.client,
        "departed_on": departure.at.date.isoformat(),
        "initiated_by": departure.initiated_by,
        "monthly_value": client.monthly_value,
        "answered": departure.answer is not None,
        "primary_reason": departure.answer.primary_reason if departure.answer else None,
        "other_reasons": list(departure.reasons[1:]),
        "facts_before": {
            "as_of": days_before(departure.at, lead_days).date.isoformat(),
            "values": {name: client.facts_before[name] for name in WARNING_FACTS if client.facts_before.get(name)},
        },
        "signals_before": list(last.fired) if last else [],
        "flagged": flag is not None,
        "first_flagged": flag.first_flagged.date.isoformat() if flag else None,
        "lead_days": flag.lead_days if flag else None,
        "flagged_verdict": flag.verdict if flag else None,
        "flagged_by": list(flag.rules) if flag else [],
        "flagged_ruleset_version": flag.ruleset_version if flag else None,
    }


# --- plain text -------------------------------------------------------------------------


def _text_lines(data: dict[str, Any]) -> Iterable[str]:
    summary, period = data["summary"], data["period"]
    if period["first"] is None:
        yield f"Learning report (rule set v{summary['ruleset_version']}): no client events yet."
        return
    yield f"Learning report: {period['first']} to {period['last']} (rule set v{summary['ruleset_version']})"
    yield ""
    yield (
        f"{summary['clients']} clients: {summary['retained']} retained, {summary['departed']} departed "
        f"(monthly value lost {summary['lost_monthly_value']:,.0f}); {summary['answered']} answered the exit survey; "
        f"{summary['flagged_before_leaving']} were flagged by the rules before they left."
    )
    yield ""
    yield "Why clients left (primary / contributing / monthly value lost):"
    for reason in data["reasons"]:
        yield f"  {reason['code']:20} {reason['primary']:4} {reason['contributing']:4}  {reason['lost_monthly_value']:>10,.0f}  {reason['label']}"
    yield ""
    yield "Departures by quarter:"
    for quarter in data["by_quarter"]:
        reasons = ", ".join(f"{code} {count}" for code, count in quarter["primary"].items()) or "no answers"
        yield f"  {quarter['quarter']}: {quarter['departures']:3} left, {quarter['answered']} answered, value lost {quarter['lost_monthly_value']:,.0f} ({reasons})"
    yield ""
    yield "Ratings (1-5): " + "; ".join(
        f"{r['label']} {_shown(r['average'])} (n={r['answers']})" for r in data["ratings"]
    )
    recommend = data["recommend"]
    yield (
        f"Recommend (0-10): average {_shown(recommend['average'])}, NPS {_shown(recommend['nps'])} "
        f"({recommend['promoters']} promoters, {recommend['passives']} passives, {recommend['detractors']} detractors)"
    )
    back = data["would_return"]
    yield f"Would return: yes {back['yes']}, maybe {back['maybe']}, no {back['no']}"
    yield ""
    yield "What could we have done differently?"
    for answer in data["answers"]:
        yield f"  {answer['answered_on']} {answer['client']} ({answer['primary_reason']}): {' '.join(answer['text'].split())}"
    yield ""
    yield f"Before each departure (facts {data['method']['lead_days']} days before; flagged by the rules in force then):"
    for client in data["departed_clients"]:
        facts = ", ".join(f"{k}={v:g}" for k, v in client["facts_before"]["values"].items()) or "no warning facts"
        flagged = (
            f"flagged {client['lead_days']} days ahead ({client['flagged_verdict']}: {', '.join(client['flagged_by'])})"
            if client["flagged"]
            else "not flagged"
        )
        yield f"  {client['departed_on']} {client['client']} [{client['primary_reason'] or 'no answer'}]: {facts}; {flagged}"
    yield ""
    yield from proposals_text(data)


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


#: clients at risk named in the text (the JSON lists them all)
AT_RISK_SHOWN = 10


def at_risk_words(at_risk: list[dict[str, Any]], *, shown: int = AT_RISK_SHOWN) -> str:
    """``amber-bakery (3), birch-labs (2) and 4 more``."""
    names = ", ".join(f"{item['client']} ({item['value']:g})" for item in at_risk[:shown])
    more = len(at_risk) - shown
    return names + (f" and {more} more" if more > 0 else "")


def certainty_words(evidence: dict[str, Any]) -> str:
    """The precision interval in plain words."""
    right, wrong = len(evidence["flagged"]), len(evidence["false_alarms"])
    low, high = evidence["precision_interval"]
    return (
        f"on past clients its warnings were right {right} times and wrong {wrong} times; from that many clients we can only "
        f"say that between {low:.0%} and {high:.0%} of its warnings will be right (95% confidence)"
    )


def proposals_text(data: dict[str, Any]) -> Iterable[str]:
    """The proposals part of the report (also ``clientrules proposals``), in plain words, from the JSON data."""
    if not data["proposals"]:
        yield "Proposals: none."
    for proposal in data["proposals"]:
        evidence, rule = proposal["evidence"], proposal["rule"]
        handle = proposal.get("readable_id", proposal["id"])
        if proposal.get("kind") == "tune":
            tuning = proposal["tuning"]
            yield (
                f"Proposal {handle} ({proposal['id']}): change rule {tuning['rule']} from "
                f"{tuning['champion']['condition_words']} to {tuning['challenger']['condition_words']}"
            )
            yield f"  {tuning['summary']}"
        else:
            yield f"Proposal {handle} ({proposal['id']}): add a rule, {rule['id']} ({rule['verdict']}): warn when a client has {evidence['condition_words']}"
            yield f"  {evidence['summary']}"
        yield f"  How sure: {certainty_words(evidence)}."
        if evidence["other_departures"]:
            yield f"  It would also have warned of {len(evidence['other_departures'])} clients who left for other reasons or gave none."
        if evidence["pending"]:
            yield (
                f"  {len(evidence['pending'])} clients who stayed were first warned less than {evidence['horizon_days']} days ago: "
                "too recently to tell, so they count neither way."
            )
        if evidence["at_risk_now"]:
            yield f"  At risk now: {at_risk_words(evidence['at_risk_now'])}."
        backtest = proposal["backtest"]
        if backtest:
            mine = backtest["rules"].get(rule["id"])
            if mine:
                yield (
                    f"  Replayed month by month with the real rules: it fires before {mine['departures_flagged']} of "
                    f"{mine['departures']} past departures (a median of {mine['median_lead_days']} days ahead) and for "
                    f"{mine['false_alarms']} of {mine['retained']} clients who then stayed"
                    f" ({mine['pending']} more too recently to tell)."
                )
            now, new = backtest["current"], backtest["candidate_outcome"]
            yield (
                f"  The whole rule set would have warned of {new['departures_flagged']} departures instead of "
                f"{now['departures_flagged']}, with {new['false_alarms']} false alarms instead of {now['false_alarms']}; "
                f"{backtest['changed_decisions']} monthly decisions change."
            )
        yield f"  Advice it gives: {rule['advice']}"
        yield f"  Accept: clientrules proposals accept {handle}   Reject: clientrules proposals reject {handle}"
    for item in data["not_proposed"]:
        count = len(item["clients"])
        yield f"No proposal for “{LABELS.get(item['reason'], item['reason'])}” ({count} client{'' if count == 1 else 's'}): {item['why']}"
    for item in data["decided"]:
        yield f"Decided: {item.get('readable_id') or item['id']} ({item['rule'].get('id', '?')}) {item['outcome']} on {item['at'][:10]}"
