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
    ``clients``, ``retained``, ``departed`` (clients who chose to leave),
    ``answered`` (of those, who answered the exit survey),
    ``flagged_before_leaving`` (by the rule set in force at the time),
    ``lost_monthly_value`` (sum of ``monthly_value`` of the clients who chose
    to leave, where known), ``ruleset_version`` (current); added:
    ``warned_too_late`` (of the flagged, those the client says came after it
    had decided), ``median_lead_days`` (of the flagged), ``first_departure``
    (date), ``ended_by_us`` and ``ended_by_us_monthly_value`` (the clients we
    ended with, counted apart).
``reasons``
    one entry per cited reason code, most cited first: ``code``, ``label``,
    ``primary``, ``contributing``, ``lost_monthly_value`` (of the clients citing it as primary);
    added: ``first_thought`` (answer to "when did you first think of leaving?" -> count)
    and ``decided_days_before`` (the warning window those answers set: the
    median of the days before leaving they had decided; null without answers).
``by_quarter``
    one entry per quarter with departures: ``quarter`` (``2025-Q3``),
    ``departures``, ``answered``, ``lost_monthly_value``, ``primary`` (code -> count);
    added: ``label`` (``July–September 2025``).
``ratings``
    one entry per rating field: ``field``, ``label``, ``average`` (null without answers), ``answers``.
``recommend``
    ``answers``, ``average``, ``promoters`` (9-10), ``passives`` (7-8),
    ``detractors`` (0-6), ``nps`` (% promoters - % detractors, null without answers;
    kept for scripts, never shown: a signed score of departed clients alone compares with nothing),
    ``distribution`` (11 counts, for 0 to 10); added: ``words`` ("would recommend us" as counts in words).
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
    ``flagged_ruleset_version``; added: ``first_thought_leaving``,
    ``decided_days_before``, ``too_late`` (flagged after the client says it had decided).
    Only clients who chose to leave: ours are under ``ended_by_us``.
``proposals``, ``not_proposed``, ``decided``, ``method``
    as ``clientrules proposals --json``; each proposal gains ``words``
    (``title``, ``summary``, ``flags_count``, ``flags_today``, ``too_late``) and ``at_risk_names``.

Added keys (after those above, in this order):

``ended_by_us``
    the clients we ended with, counted apart (decisions carried out, never
    departures caught): ``client``, ``ended_on``, ``monthly_value``,
    ``warned_by`` (rules that warned in the months before), ``lead_days``,
    ``answered``, ``about``, ``primary_reason``, ``recommend``,
    ``what_to_change``, ``keep_doing`` (raw text: escape it to show it).
``told``
    what clients who chose to leave wrote, grouped by their main reason:
    ``code``, ``label``, and ``what_to_change``, ``keep_doing``, ``moved_to``
    (each a list of ``client``, ``answered_on``, ``text``; raw: escape it).
``names``
    client -> the name it was onboarded with, for the clients the report names.
``rule_words``
    rule id -> what the rule means in words (its description).
``in_words``
    the report's sentences, the same for the text, the page and the HTML
    report: ``period``, ``summary`` (a list), ``recommend``, ``ended_by_us``.
``set_aside``
    the clients that could not be decided, left out of the replayed figures:
    ``client`` and ``reason`` (one line) each.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import Any, Iterable, Mapping

import attrs

from clientrules.domain.events.dates import DEFAULT_DATE_FORMAT, MONTHS, plain_date
from clientrules.domain.learning.backtest import Decided, Flag, Replayed, set_aside_words
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
    "ended_by_us",
    "told",
    "names",
    "rule_words",
    "in_words",
    "set_aside",
)
#: Facts shown for a departed client when above zero: the warning facts, and the client-side ones the playbook uses.
WARNING_FACTS = (*(fact for fact, op in CANDIDATE_FACTS if op == ">="), "severe_staff_incidents_365d", "contract_breaches_365d", "needs_outgrown_365d")
#: "When did you first think of leaving?" as "this client says it was thinking of leaving ..."
THINKING_OF_LEAVING = {
    "under_a_month": "for less than a month",
    "one_to_three_months": "for 1 to 3 months",
    "over_three_months": "for more than 3 months",
    "from_the_start": "almost from the start",
}
TOLD = ("what_to_change", "keep_doing", "moved_to")


@attrs.frozen
class Report:
    """The learning report as data (:data:`REPORT_KEYS`), with a plain-text form
    (:func:`clientrules.adapters.report.html.render_html` draws the HTML one)."""

    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data

    def to_text(self) -> str:
        return "\n".join(_text_lines(self.data)) + "\n"


def build_report(
    evidence: Evidence, in_force: Replayed, proposals: Any, *, rule_words: Mapping[str, str] | None = None
) -> Report:
    """Gather the report from the evidence, the replay under the versions in force, and the current proposals.

    ``rule_words`` maps a rule id to its description, to name rules in words.
    """
    lead_days = evidence.lead_days
    departed = evidence.departed
    answered = [d for d in departed if d.departure.answer is not None]
    answers = [a for a in (d.departure.answer for d in answered) if a is not None]
    timeframe = evidence.timeframe
    flags = [flag for flag in in_force.outcome.flagged]
    ours = evidence.ended_by_us
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
            "flagged_before_leaving": len(flags),
            "lost_monthly_value": _total(d.monthly_value for d in departed),
            "ruleset_version": proposals.ruleset_version,
            "warned_too_late": sum(flag.too_late for flag in flags),
            "median_lead_days": in_force.outcome.median_lead_days,
            "first_departure": departed[0].departure.at.date.isoformat() if departed else None,
            "ended_by_us": len(ours),
            "ended_by_us_monthly_value": _total(d.monthly_value for d in ours),
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
        "ended_by_us": [_ended_by_us(d, in_force.departed.get(d.client, (None, None))[0]) for d in ours],
        "told": _told(answered),
    }
    data.update(proposals.to_json())
    thinking = {d.client: d.departure.answer.first_thought_leaving for d in answered if d.departure.answer}
    for proposal in data["proposals"]:
        _add_words(proposal, thinking, evidence.names, rule_words or {})
    named = {item["client"] for p in data["proposals"] for item in p["evidence"]["at_risk_now"]}
    named |= {d.client for d in (*departed, *ours)} | {item["client"] for item in data["set_aside"]}
    data["names"] = {client: evidence.names[client] for client in sorted(named) if client in evidence.names}
    data["rule_words"] = dict(sorted((rule_words or {}).items()))
    data["in_words"] = _in_words(data)
    return Report({key: data[key] for key in REPORT_KEYS})


def date_words(text: str | None, date_format: str = DEFAULT_DATE_FORMAT) -> str:
    """``2026-03-05`` -> ``5 March 2026``, or as ``date_format`` writes it (``–`` for none)."""
    return plain_date(dt.date.fromisoformat(text[:10]), date_format) if text else "–"


def month_words(text: str) -> str:
    """``2026-03-05`` -> ``March 2026``."""
    day = dt.date.fromisoformat(text[:10])
    return f"{MONTHS[day.month - 1]} {day.year}"


def quarter_words(day: dt.date) -> str:
    """The quarter of ``day`` as ``April–June 2026``."""
    first = (day.month - 1) // 3 * 3
    return f"{MONTHS[first]}–{MONTHS[first + 2]} {day.year}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 client``, ``3 clients``."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def money(value: float) -> str:
    return f"{value:,.0f}"


def too_late_words(lead_days: int, first_thought: str | None) -> str:
    """``warned 12 days ahead; this client says it was thinking of leaving for 1 to 3 months``."""
    warned = f"warned {plural(lead_days, 'day')} ahead"
    if first_thought is None:
        return warned
    return f"{warned}; this client says it was thinking of leaving {THINKING_OF_LEAVING[first_thought]}"


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


def _told(answered: list[DepartedClient]) -> list[dict[str, Any]]:
    """What they wrote (what to change, what to keep, who they went to), grouped by main reason, most cited first."""
    groups: dict[str, dict[str, Any]] = {}
    for client in answered:
        answer, at = client.departure.answer, client.departure.answered_at
        if answer is None or at is None:
            continue
        for field in TOLD:
            text = getattr(answer, field)
            if text:
                group = groups.setdefault(
                    answer.primary_reason,
                    {"code": answer.primary_reason, "label": LABELS[answer.primary_reason], **{f: [] for f in TOLD}},
                )
                group[field].append({"client": client.client, "answered_on": at.date.isoformat(), "text": text})
    size = {code: sum(len(group[f]) for f in TOLD) for code, group in groups.items()}
    return [groups[code] for code in sorted(groups, key=lambda c: (-size[c], c))]


def _total(values: Iterable[float | None]) -> float:
    return round(sum(v for v in values if v is not None), 2)


def _quarter(client: DepartedClient) -> str:
    day = client.departure.at.date
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _reasons(answered: list[Any]) -> list[dict[str, Any]]:
    primary = Counter(r.departure.answer.primary_reason for r in answered)
    contributing = Counter(reason for r in answered for reason in r.departure.reasons[1:])
    codes = sorted(set(primary) | set(contributing), key=lambda c: (-primary[c], -contributing[c], c))
    entries = []
    for code in codes:
        citing = [r.departure for r in answered if code in r.departure.reasons]
        decided = [d.decided_days_before for d in citing if d.decided_days_before is not None]
        entries.append(
            {
                "code": code,
                "label": LABELS[code],
                "primary": primary[code],
                "contributing": contributing[code],
                "lost_monthly_value": _total(
                    r.monthly_value for r in answered if r.departure.answer.primary_reason == code
                ),
                "first_thought": dict(
                    Counter(d.answer.first_thought_leaving for d in citing if d.answer.first_thought_leaving)
                ),
                "decided_days_before": statistics.median(decided) if decided else None,
            }
        )
    return entries


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
            "label": quarter_words(records[0].departure.at.date),
        }
        for quarter, records in sorted(quarters.items())
    ]


def _average(values: list[int | None]) -> dict[str, Any]:
    given = [v for v in values if v is not None]
    return {"average": round(statistics.fmean(given), 2) if given else None, "answers": len(given)}


def _recommend(scores: list[int]) -> dict[str, Any]:
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    passives = len(scores) - promoters - detractors
    if scores:
        words = (
            f"Would they recommend us? Of {plural(len(scores), 'client')} who answered, {promoters:,} said very likely "
            f"(9 or 10 out of 10), {passives:,} perhaps (7 or 8) and {detractors:,} unlikely (6 or less)."
        )
    else:
        words = "No client who left has said whether it would recommend us."
    return {
        **_average(list(scores)),
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps": round(100 * (promoters - detractors) / len(scores)) if scores else None,
        "distribution": [scores.count(score) for score in range(11)],
        "words": words,
    }


def _departed_client(client: DepartedClient, flag: Flag | None, last: Decided | None, lead_days: int) -> dict[str, Any]:
    departure = client.departure
    decided = departure.decided_days_before
    return {
        "client": client.client,
        "departed_on": departure.at.date.isoformat(),
        "initiated_by": departure.initiated_by,
        "monthly_value": client.monthly_value,
        "answered": departure.answer is not None,
        "primary_reason": departure.answer.primary_reason if departure.answer else None,
        "other_reasons": list(departure.reasons[1:]),
        "facts_before": {
            "as_of": days_before(departure.at, max(lead_days, decided or 0)).date.isoformat(),
            "values": {name: client.facts_before[name] for name in WARNING_FACTS if client.facts_before.get(name)},
        },
        "signals_before": list(last.fired) if last else [],
        "flagged": flag is not None,
        "first_flagged": flag.first_flagged.date.isoformat() if flag else None,
        "lead_days": flag.lead_days if flag else None,
        "flagged_verdict": flag.verdict if flag else None,
        "flagged_by": list(flag.rules) if flag else [],
        "flagged_ruleset_version": flag.ruleset_version if flag else None,
        "first_thought_leaving": departure.answer.first_thought_leaving if departure.answer else None,
        "decided_days_before": decided,
        "too_late": flag is not None and flag.too_late,
    }


def _ended_by_us(client: DepartedClient, flag: Flag | None) -> dict[str, Any]:
    departure, answer = client.departure, client.departure.answer
    return {
        "client": client.client,
        "ended_on": departure.at.date.isoformat(),
        "monthly_value": client.monthly_value,
        "warned_by": list(flag.rules) if flag else [],
        "lead_days": flag.lead_days if flag else None,
        "answered": answer is not None,
        "about": (answer.about or "leaving") if answer else None,
        "primary_reason": answer.primary_reason if answer else None,
        "recommend": answer.recommend if answer else None,
        "what_to_change": answer.what_to_change if answer else None,
        "keep_doing": answer.keep_doing if answer else None,
    }


def _add_words(
    proposal: dict[str, Any], thinking: Mapping[str, str | None], names: Mapping[str, str], rule_words: Mapping[str, str]
) -> None:
    """The proposal in words: what it does, whom it flags today, which of its warnings would have come too late."""
    evidence = proposal["evidence"]
    if proposal.get("kind") == "tune":
        tuning = proposal["tuning"]
        champion, challenger = tuning["champion"], tuning["challenger"]
        title = f"Warn when a client has {challenger['condition_words']} (instead of {champion['condition_words']})"
        summary = (
            f"The rule “{rule_words.get(tuning['rule'], tuning['rule'])}” warns when a client has {champion['condition_words']}. "
            f"At {challenger['condition_words']} instead, it would have warned of {len(challenger['flagged']):,} clients "
            f"who left rather than {len(champion['flagged']):,}, and wrongly of {len(challenger['false_alarms']):,} who stayed "
            f"rather than {len(champion['false_alarms']):,}."
        )
    else:
        title = f"Warn when a client has {evidence['condition_words']}"
        summary = evidence["summary"]
    at_risk = evidence["at_risk_now"]
    proposal["at_risk_names"] = [names.get(item["client"], item["client"]) for item in at_risk]
    flags_count = f"Today it would flag {plural(len(at_risk), 'client')}" if at_risk else "Today it would flag no client"
    flags_today = flags_count + (": " + names_words(proposal["at_risk_names"]) if at_risk else "") + "."
    late = []
    backtest = proposal.get("backtest")
    mine = backtest["rules"].get(proposal["rule"]["id"]) if backtest else None
    for flag in (mine or {}).get("flagged", []):
        if flag.get("too_late"):
            late.append(too_late_words(flag["lead_days"], thinking.get(flag["client"])))
    too_late = (
        f"{plural(len(late), 'warning')} would have come after the client had already decided to leave ({late[0]})."
        if late
        else ""
    )
    proposal["words"] = {
        "title": title,
        "summary": summary,
        "flags_count": flags_count,
        "flags_today": flags_today,
        "too_late": too_late,
    }


#: names written out in a sentence; the rest are counted (the page lists them all, 25 at a time)
NAMES_SHOWN = 10


def names_words(names: list[str], *, shown: int = NAMES_SHOWN) -> str:
    """``Amber Bakery, Birch Labs and 4 more``."""
    listed = names[:shown]
    more = len(names) - len(listed)
    if more > 0:
        return ", ".join(listed) + f" and {more:,} more"
    if len(listed) > 1:
        return ", ".join(listed[:-1]) + " and " + listed[-1]
    return "".join(listed)


def period_words(period: Mapping[str, str | None], date_format: str = DEFAULT_DATE_FORMAT) -> str:
    """The report's ``period`` as ``5 January 2026 to 30 June 2026`` (dates as ``date_format`` writes them)."""
    if period["first"] is None:
        return "no client events yet"
    return f"{date_words(period['first'], date_format)} to {date_words(period['last'], date_format)}"


def _in_words(data: dict[str, Any]) -> dict[str, Any]:
    """The report's sentences (see the module)."""
    summary, period = data["summary"], data["period"]
    if period["first"] is None:
        return {"period": period_words(period), "summary": ["No client events yet."], "recommend": "", "ended_by_us": ""}
    sentences = []
    left = summary["departed"]
    if left:
        since = month_words(summary["first_departure"])
        sentence = f"{plural(left, 'client')} chose to leave since {since}"
        if summary["answered"]:
            sentence += f"; {summary['answered']:,} of them answered the exit survey"
        sentences.append(sentence + ".")
        if data["reasons"]:
            top = data["reasons"][0]
            cited = top["primary"] + top["contributing"]
            sentences.append(f"{cited:,} of them said “{top['label']}”, the reason given most often.")
        flagged = summary["flagged_before_leaving"]
        if flagged:
            sentence = f"The rules warned of {flagged:,} of the {plural(left, 'client')} who left"
            if summary["median_lead_days"] is not None:
                sentence += f", typically {plural(round(summary['median_lead_days']), 'day')} ahead"
            if summary["warned_too_late"]:
                sentence += f"; {summary['warned_too_late']:,} of those warnings came after the client had already decided"
            sentences.append(sentence + ".")
        else:
            sentences.append("The rules warned of none of the clients who left.")
    else:
        sentences.append("No client has chosen to leave yet.")
    ours = summary["ended_by_us"]
    ended = (
        f"We ended {plural(ours, 'relationship')} ourselves (worth {money(summary['ended_by_us_monthly_value'])} a month): "
        "decisions carried out, counted apart from the clients who chose to leave."
        if ours
        else ""
    )
    if ended:
        sentences.append(ended)
    proposals = len(data["proposals"])
    sentences.append(
        f"{plural(proposals, 'change')} to the rules {'is' if proposals == 1 else 'are'} proposed below."
        if proposals
        else "No change to the rules is proposed."
    )
    retained = summary["retained"]
    sentences.append(f"{plural(retained, 'client')} {'is' if retained == 1 else 'are'} with us now.")
    aside = set_aside_words([data["names"].get(item["client"], item["client"]) for item in data["set_aside"]])
    if aside:
        sentences.append(aside)
    return {
        "period": period_words(period),
        "summary": sentences,
        "recommend": data["recommend"]["words"],
        "ended_by_us": ended,
    }


# --- plain text -------------------------------------------------------------------------


#: items of a long list (what clients wrote, our endings) the text report writes out, as the page shows them
TEXT_LIST_SHOWN = 25
#: the heading above which the text report speaks plain words only (codes, ids and figures follow it)
DETAILS_HEADING = "Details (for checking the figures)"


def _text_lines(data: dict[str, Any]) -> Iterable[str]:
    """The report as text: the same words as the page first, then (after :data:`DETAILS_HEADING`) the figures."""
    words, summary = data["in_words"], data["summary"]
    if data["period"]["first"] is None:
        yield f"Learning report (rules in use: version {summary['ruleset_version']}): no client events yet."
        return
    yield f"What we learned from clients who left, {words['period']} (rules in use: version {summary['ruleset_version']})"
    yield ""
    yield from words["summary"]
    yield ""
    yield "What to change"
    if not data["proposals"]:
        yield "  No change to the rules is proposed."
    for number, proposal in enumerate(data["proposals"], 1):
        yield f"  {number}. {proposal['words']['title']}."
        yield f"     {proposal['words']['summary']}"
        yield f"     {proposal['words']['flags_today']}"
        if proposal["words"]["too_late"]:
            yield f"     {proposal['words']['too_late']}"
        yield f"     What it advises: {proposal['rule']['advice']}"
    yield ""
    yield "Why clients left (main reason / also played a part / monthly value lost)"
    for reason in data["reasons"]:
        yield f"  {reason['label']}: {reason['primary']:,} / {reason['contributing']:,} / {money(reason['lost_monthly_value'])}"
        if reason["decided_days_before"] is not None:
            yield (
                f"    Most of them had decided at least {plural(round(reason['decided_days_before']), 'day')} before they left: "
                "a warning must come earlier than that."
            )
    if not data["reasons"]:
        yield "  No survey answers yet."
    yield ""
    yield "What they told us"
    told = [
        (group["label"], question, item)
        for group in data["told"]
        for field, question in (
            ("what_to_change", "What we could have done differently"),
            ("keep_doing", "What we should keep doing"),
            ("moved_to", "Who they work with now"),
        )
        for item in group[field]
    ]
    label = None
    for reason, question, item in told[:TEXT_LIST_SHOWN]:
        if reason != label:
            label = reason
            yield f"  “{reason}”"
        name = data["names"].get(item["client"], item["client"])
        yield f"    {question} ({name}, {date_words(item['answered_on'])}): {' '.join(item['text'].split())}"
    if len(told) > TEXT_LIST_SHOWN:
        yield f"  and {len(told) - TEXT_LIST_SHOWN:,} more answers (report --json lists them all)"
    if not told:
        yield "  No written answers."
    yield ""
    yield data["in_words"]["recommend"]
    back = data["would_return"]
    yield f"Would they work with us again? Yes {back['yes']:,}, maybe {back['maybe']:,}, no {back['no']:,}."
    yield ""
    yield "Departures by quarter"
    for quarter in data["by_quarter"]:
        yield (
            f"  {quarter['label']}: {plural(quarter['departures'], 'client')} left, {quarter['answered']:,} answered, "
            f"monthly value lost {money(quarter['lost_monthly_value'])}"
        )
    if data["ended_by_us"]:
        yield ""
        yield "Clients we ended with (counted apart)"
        yield f"  {words['ended_by_us']}"
        for ended in data["ended_by_us"][:TEXT_LIST_SHOWN]:
            name = data["names"].get(ended["client"], ended["client"])
            rules = "; ".join(data["rule_words"].get(rule, rule) for rule in ended["warned_by"])
            after = f"after the rules warned ({rules})" if rules else "without a warning from the rules"
            yield f"  {name}, ended on {date_words(ended['ended_on'])}, {after}"
        if len(data["ended_by_us"]) > TEXT_LIST_SHOWN:
            yield f"  and {len(data['ended_by_us']) - TEXT_LIST_SHOWN:,} more (report --json lists them all)"
    yield ""
    yield DETAILS_HEADING
    yield ""
    yield from _detail_lines(data)


def _detail_lines(data: dict[str, Any]) -> Iterable[str]:
    summary, period = data["summary"], data["period"]
    yield f"Learning report: {period['first']} to {period['last']} (rule set v{summary['ruleset_version']})"
    yield (
        f"{summary['clients']} clients: {summary['retained']} retained, {summary['departed']} departed by their choice "
        f"(monthly value lost {summary['lost_monthly_value']:,.0f}), {summary['ended_by_us']} ended by us; "
        f"{summary['answered']} answered the exit survey; {summary['flagged_before_leaving']} were flagged by the rules before they left."
    )
    yield ""
    yield "Reason codes (primary / contributing / monthly value lost):"
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
    yield f"Recommend (0-10): average {_shown(recommend['average'])}; answers 0 to 10: {recommend['distribution']}"
    yield ""
    yield "What could we have done differently?"
    for answer in data["answers"]:
        yield f"  {answer['answered_on']} {answer['client']} ({answer['primary_reason']}): {' '.join(answer['text'].split())}"
    yield ""
    yield f"Before each departure (facts {data['method']['lead_days']} days before, or earlier when the client had decided earlier; flagged by the rules in force then):"
    for client in data["departed_clients"]:
        facts = ", ".join(f"{k}={v:g}" for k, v in client["facts_before"]["values"].items()) or "no warning facts"
        flagged = (
            f"flagged {client['lead_days']} days ahead ({client['flagged_verdict']}: {', '.join(client['flagged_by'])})"
            + (f", too late: {too_late_words(client['lead_days'], client['first_thought_leaving'])}" if client["too_late"] else "")
            if client["flagged"]
            else "not flagged"
        )
        yield f"  {client['departed_on']} {client['client']} [{client['primary_reason'] or 'no answer'}]: {facts}; {flagged}"
    if data["ended_by_us"]:
        yield ""
        yield "Ended by us (not counted as departures):"
        for ended in data["ended_by_us"]:
            warned = f"after {', '.join(ended['warned_by'])} ({ended['lead_days']} days before)" if ended["warned_by"] else "no rule warned"
            yield f"  {ended['ended_on']} {ended['client']}: {warned}; monthly value {_shown(ended['monthly_value'])}"
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
    if data["set_aside"]:
        yield set_aside_words([item["client"] for item in data["set_aside"]])
        for item in data["set_aside"]:
            yield f"  {item['client']}: {item['reason']}"
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
