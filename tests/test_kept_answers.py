"""The engine's answers kept in the store: only those that check are read back, and only adopted versions keep them.

(That a new process decides from kept answers exactly as one engine call per
client does, on random histories and rule sets, is checked beside the
standing cache: tests/test_standing_cache.py.)
"""

from __future__ import annotations

import sqlite3

from test_decisions_differential import T
from test_standing_cache import CountingEngine

from clientrules import Ledger, wiring
from clientrules.adapters.durable import DurableEngine
from clientrules.adapters.durable_compile import answers_name
from clientrules.application.kept_answers import KeptAnswers
from clientrules.application.rule_versions import RuleSetVersion
from clientrules.domain.rules import default_ruleset_text, parse_ruleset


def asked_while(work) -> tuple[object, int]:
    before = CountingEngine.asked
    result = work()
    return result, CountingEngine.asked - before


def test_answers_that_do_not_check_are_left_and_the_engine_is_asked_again(tmp_path, stories_path) -> None:
    path = tmp_path / "kept.db"
    with Ledger.open(path, engine_factory=CountingEngine) as ledger:
        ledger.import_jsonl(stories_path)
        version = ledger.rules.current()
        expected, asked_first = asked_while(lambda: [d.to_json() for d in ledger.decisions.evaluate(as_of=T)])
        kept = ledger.store.read_engine_answers(answers_name(version))
    assert asked_first == len(kept) > 1
    with sqlite3.connect(path) as connection:  # damage two kept answers as a disk or a hand might
        damaged = connection.execute("SELECT standing FROM engine_answers ORDER BY standing LIMIT 2").fetchall()
        connection.execute("UPDATE engine_answers SET answer = replace(answer, '[', '[\"x\", ') WHERE standing = ?",
                           damaged[0])
        connection.execute("UPDATE engine_answers SET standing = standing || '1' WHERE standing = ?", damaged[1])
    with Ledger.open(path, engine_factory=CountingEngine) as ledger:
        again, asked = asked_while(lambda: [d.to_json() for d in ledger.decisions.evaluate(as_of=T)])
    assert again == expected
    assert asked == 2


def test_an_answer_naming_a_rule_the_version_lacks_or_of_another_width_is_not_read(ledger) -> None:
    version = ledger.rules.current()
    width = len(version.ruleset.enabled_rules)
    kept = KeptAnswers(ledger.store, answers_name).of(version)
    real_rule = version.ruleset.enabled_rules[0].id
    kept.keep({(True,) * width: (real_rule,), (False,) * width: ("no-such-rule",),
               (True,) * (width + 1): (real_rule,)})
    assert kept.read() == {(True,) * width: (real_rule,)}


def test_drafts_and_engines_that_name_no_answers_keep_none(ledger, stories_path) -> None:
    draft = RuleSetVersion(0, parse_ruleset(default_ruleset_text()))
    assert KeptAnswers(ledger.store, answers_name).of(draft) is None
    ledger.import_jsonl(stories_path)
    assert ledger.decisions.evaluate(as_of=T, ruleset=draft)  # a preview of the draft, through the engines
    assert ledger.store.read_engine_answers(answers_name(draft)) == {}
    assert wiring.kept_answers(ledger.store, lambda version: DurableEngine(version)) is None
    assert wiring.kept_answers(ledger.store, DurableEngine) is not None


def test_the_name_changes_with_the_rules_compiled_and_only_with_them() -> None:
    playbook = parse_ruleset(default_ruleset_text())
    assert answers_name(RuleSetVersion(1, playbook)) == answers_name(RuleSetVersion(1, parse_ruleset(default_ruleset_text())))
    assert answers_name(RuleSetVersion(1, playbook)) != answers_name(RuleSetVersion(2, playbook))
    ordered = parse_ruleset(default_ruleset_text().replace("[[rules]]\n", "[[rules]]\nsalience = 5\n", 1))
    assert answers_name(RuleSetVersion(1, ordered)) != answers_name(RuleSetVersion(1, playbook))
    # which rules fire does not depend on what they conclude
    concluded = parse_ruleset(default_ruleset_text().replace('verdict = "terminate"', 'verdict = "refer_out"', 1))
    assert concluded.source != playbook.source
    assert answers_name(RuleSetVersion(1, concluded)) == answers_name(RuleSetVersion(1, playbook))
