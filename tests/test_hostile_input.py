"""Hostile input: malformed JSON Lines, rule-set files and survey form posts get the documented errors only.

Through the API, the CLI and the web app: a one-line error (exit status 1, or a
page with the messages) and nothing stored, never a traceback, a hang or a
partial write. Rule-set conditions cannot run code. Huge inputs are bounded:
a 100 MB import runs in bounded memory, a line over 64 KiB is refused with its
number, a request body over 256 KiB gets a 413 page.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import durable
import pytest
import tomli_w
from click.testing import CliRunner
from conftest import STORIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from survey_fixtures import FULL_FORM, add_departed, clean_environment, close_app, csrf_token, make_app
from test_engine_differential import rulesets

import clientrules
import survey_app
from clientrules import Ledger, SurveyAnswered
from clientrules.cli.main import cli
from clientrules.adapters.durable import DurableEngine
from clientrules.domain.errors import InvalidInput
from clientrules.domain.events import Instant, read_events, write_events
from clientrules.domain.events.jsonl import MAX_LINE_BYTES
from clientrules.domain.facts import FACTS, Facts
from clientrules.domain.rules import RuleSetProblems, default_ruleset_text, parse_ruleset
from clientrules.domain.survey import FIELDS, REASON_LABELS

STORY_LINES = [line for line in STORIES.read_text().splitlines() if line.strip()]
HOSTILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: the most memory a 100 MB import may take (it streams: ~60 MB measured with its 10 KB lines, ~140 MB with 60 KB lines, as much for 200 MB)
IMPORT_RSS_BOUND_MB = 200


def cli_run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def assert_clean_failure(result, pattern: str = r"error: .+") -> None:
    """Exit status 1 and one ``error: ...`` line per problem on stderr; no traceback, nothing on stdout."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and "Traceback" not in result.stderr
    for line in result.stderr.splitlines():
        assert re.fullmatch(pattern, line), line


# -- JSON Lines ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


@st.composite
def hostile_lines(draw) -> bytes:
    """A line of the stories, maybe changed in its values, then maybe damaged as bytes."""
    obj = json.loads(draw(st.sampled_from(STORY_LINES)))
    change = draw(st.sampled_from(["none", "no id", "value", "data field", "type", "key", "lone surrogate"]))
    if change == "no id":
        obj.pop("id", None)
    elif change == "value":
        obj[draw(st.sampled_from(["client", "type", "at", "data", "id"]))] = draw(json_values)
    elif change == "data field" and isinstance(obj.get("data"), dict):
        obj["data"][draw(st.sampled_from(sorted(obj["data"])) | st.text(max_size=8))] = draw(json_values)
    elif change == "type":
        obj["type"] = draw(st.text(max_size=20))
    elif change == "key":
        obj[draw(st.text(max_size=8))] = draw(json_values)
    text = json.dumps(obj, allow_nan=True)  # NaN and Infinity come with the floats
    if change == "lone surrogate":
        text = text.replace('"client": "', '"client": "\\udc80', 1)
    raw = text.encode()
    damage = draw(
        st.sampled_from(
            ["none", "nul", "invalid utf-8", "bom", "huge number", "deep", "duplicate key", "cut", "junk", "huge line", "compact"]
        )
    )
    at = draw(st.integers(0, len(raw)))
    if damage == "nul":
        raw = raw[:at] + b"\x00" + raw[at:]
    elif damage == "invalid utf-8":
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + raw[at:]
    elif damage == "bom":
        raw = raw[:at] + b"\xef\xbb\xbf" + raw[at:]
    elif damage == "huge number":
        number = draw(st.sampled_from(["1" + "0" * 400, "1e999", "-1e400", "1" + "0" * 5000 + ".5", "1E-400"]))
        raw = re.sub(rb"\d+(\.\d+)?", number.encode(), raw, count=1)
    elif damage == "deep":
        depth = draw(st.integers(100, 40_000))
        raw = raw.replace(b'"data": ', b'"data": ' + b"[" * depth + b"]" * depth + b", ", 1)
    elif damage == "duplicate key":
        raw = raw.replace(b"{", b'{"client": "x", ', 1)
    elif damage == "cut":
        raw = raw[:at]
    elif damage == "junk":
        raw = draw(st.binary(max_size=40))
    elif damage == "huge line":  # up to the limit and a little over it
        size = draw(st.integers(MAX_LINE_BYTES - 150, MAX_LINE_BYTES + 10)) - len(raw) - len(b', "pad": ""')
        raw = raw[:-1] + b', "pad": "' + b"x" * max(size, 0) + b'"}'
    elif damage == "compact":  # no spaces, and numbers to fill the line: export writes it longer
        raw = raw[:-1].replace(b", ", b",").replace(b": ", b":") + b',"n":[' + b",".join([b"1"] * draw(st.integers(1, 32_000))) + b"]}"
    return raw


@st.composite
def hostile_documents(draw) -> bytes:
    lines = draw(st.lists(hostile_lines() | st.sampled_from([b"", b"# a comment", b"   "]), min_size=1, max_size=6))
    endings = draw(st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines)))
    document = b"".join(line + ending for line, ending in zip(lines, endings))
    if draw(st.booleans()):
        document = document.rstrip(b"\r\n")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + document


def event_lines(document: bytes) -> int:
    """How many events a valid document holds (blank and ``#`` lines are skipped)."""
    texts = document.decode("utf-8-sig").split("\n")
    return sum(1 for text in texts if text.strip() and not text.strip().startswith("#"))


@HOSTILE
@given(hostile_documents())
def test_hostile_json_lines_through_the_api_store_all_or_nothing_with_a_one_line_error(document):
    with tempfile.TemporaryDirectory() as directory, Ledger.open(Path(directory) / "h.db") as ledger:
        try:
            result = ledger.import_jsonl(io.BytesIO(document))
        except InvalidInput as error:
            assert 1 <= error.line <= document.count(b"\n") + 1
            assert str(error).startswith(f"line {error.line}: ") and "\n" not in str(error)
            assert ledger.store.head_position() == 0
            return
        assert result.stored + result.already_present == event_lines(document)
        assert ledger.store.head_position() == result.stored
        exported = io.StringIO()  # what was accepted goes back out as a file that imports elsewhere
        ledger.export_jsonl(exported)
        with Ledger.open(Path(directory) / "copy.db") as copy:
            assert copy.import_jsonl(io.StringIO(exported.getvalue())).stored == result.stored


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_documents())
def test_hostile_json_lines_through_the_cli_import_get_one_error_line(document):
    with tempfile.TemporaryDirectory() as directory:
        db = str(Path(directory) / "h.db")
        result = cli_run("--db", db, "import", "-", input=document)
        if result.exit_code == 0:
            assert re.fullmatch(r"stored \d+ events, \d+ already present\n", result.stdout)
            return
        assert_clean_failure(result, r"error: line \d+: .+ \(in <stdin>; nothing was stored\)")
        assert cli_run("--db", db, "clients").stdout.startswith("no clients yet")


@st.composite
def lines_near_the_limit(draw) -> bytes:
    """A story line, with or without its id, filled to just under 64 KiB with text, or compactly with numbers."""
    obj = json.loads(draw(st.sampled_from(STORY_LINES)))
    if draw(st.booleans()):
        obj.pop("id", None)
    obj.setdefault("data", {})["fill"] = "FILL"
    if draw(st.booleans()):
        raw = json.dumps(obj).encode()
        return raw.replace(b"FILL", b"x" * draw(st.integers(MAX_LINE_BYTES - len(raw) - 200, MAX_LINE_BYTES - len(raw) + 4)))
    raw = json.dumps(obj, separators=(",", ":")).encode()
    number = draw(st.sampled_from([b"1", b"1e15", b"-0"]))
    room = (MAX_LINE_BYTES - len(raw)) // (len(number) + 1)
    return raw.replace(b'"FILL"', b"[" + b",".join([number] * draw(st.integers(room // 2, room))) + b"]")


@HOSTILE
@given(lines_near_the_limit())
def test_every_line_import_accepts_is_exported_as_a_line_import_accepts(line):
    try:
        (event,) = read_events([line])
    except InvalidInput as error:
        assert str(error).startswith("line 1: ")
        return
    exported = io.StringIO()
    write_events([event], exported)
    assert len(exported.getvalue().encode()) <= MAX_LINE_BYTES + 1  # and its line break
    assert read_events(exported.getvalue().splitlines()) == [event]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (b'{"client": "acme", "type": "FollowUpSent", "at": "2026-01-05", "data": {"topic": "a\x00b"}}', "invalid JSON (Invalid control character at)"),
        (b'{"client": "acme", "type": "FollowUpSent", "at": "2026-01-05", "data": {"topic": "\xff"}}', "not valid UTF-8"),
        (b'{"client": "acme", "type": "WorkLogged", "at": "2026-01-05", "data": {"hours": 1e999, "billable": true}}', "data.hours: must be a number"),
        (b'{"client": "acme", "type": "WorkLogged", "at": "2026-01-05", "data": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "too deeply nested"),
        (b'{"client": "acme", "type": "WorkLogged", "at": "2026-01-05", "data": {"hours": NaN, "billable": true}}', "NaN is not a JSON number"),
        (b'{"client": "acme", "type": "WorkLogged", "at": "2026-01-05", "data": {"hours": 1, "billable": true}, "pad": "' + b"x" * (10 * 2**20) + b'"}', "line is longer than 64 KiB"),
    ],
    ids=["NUL", "invalid UTF-8", "huge number", "deep nesting", "NaN", "a 10 MB line"],
)
def test_the_console_script_refuses_a_bad_third_line_without_traceback(tmp_path, damage, message):
    good = STORY_LINES[0].encode()
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + good + b"\r\n" + STORY_LINES[1].encode() + b"\r\n" + damage + b"\r\n" + good + b"\n")
    db = tmp_path / "h.db"
    completed = subprocess.run(
        [sys.executable, "-m", "clientrules", "--db", str(db), "import", str(source)],
        capture_output=True,
        timeout=60,
    )
    assert (completed.returncode, completed.stdout) == (1, b"")
    stderr = completed.stderr.decode()
    assert stderr.startswith("error: line 3: ") and stderr.count("\n") == 1 and message in stderr
    assert stderr.endswith(f"(in {source}; nothing was stored)\n")
    with Ledger.open(db) as ledger:
        assert ledger.store.head_position() == 0


# -- bounded: a 100 MB file --------------------------------------------------------------


#: the console script, which at exit writes its peak memory to the file named by its first argument. Read from
#: /proc: the child's getrusage would count the memory of the test process it was forked from.
MEASURED_CLI = """
import atexit, sys
from clientrules.cli.main import main
report = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(report, "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
main(sys.argv[1:])
"""


def cli_measured(tmp_path: Path, *args: str) -> tuple[int, str, int]:
    """Exit status, standard error and peak resident memory (MB) of the CLI run in a process of its own."""
    report = tmp_path / "peak-kib"
    completed = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, str(report), *args], capture_output=True, text=True, timeout=300
    )
    return completed.returncode, completed.stderr, int(report.read_text()) // 1024


@pytest.mark.slow
def test_a_100_mb_file_is_refused_then_imported_in_bounded_memory(tmp_path):
    source = tmp_path / "big.jsonl"
    note = "n" * 10_000
    count = 0
    with open(source, "w") as file:
        while file.tell() < 100 * 2**20:
            client = f"c{count % 1000:04d}"
            file.write(json.dumps({"client": client, "type": "FollowUpSent", "at": "2026-01-05", "data": {"topic": "t", "note": note}}) + "\n")
            count += 1
        good_size = file.tell()
        file.write('{"client": "c0000", "type": "FollowUpSent", "at": "2026-01-05", "data": {"topic": 7}}\n')
    db = tmp_path / "big.db"
    status, errors, peak_mb = cli_measured(tmp_path, "--db", str(db), "import", str(source))
    assert (status, errors) == (1, f"error: line {count + 1}: data.topic: must be a string (in {source}; nothing was stored)\n")
    assert peak_mb < IMPORT_RSS_BOUND_MB, f"peak RSS {peak_mb} MB"
    with Ledger.open(db) as ledger:
        assert ledger.store.head_position() == 0

    os.truncate(source, good_size)
    status, errors, peak_mb = cli_measured(tmp_path, "--db", str(db), "import", str(source))
    print(f"100 MB import: {count} events, peak RSS {peak_mb} MB")
    assert (status, errors) == (0, "")
    assert peak_mb < IMPORT_RSS_BOUND_MB, f"peak RSS {peak_mb} MB"
    with Ledger.open(db) as ledger:
        assert ledger.store.head_position() == count


# -- rule-set files ---------------------------------------------------------------------------

PLAYBOOK = default_ruleset_text()
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: format(Decimal(repr(x)), "f")),
    st.sampled_from(["0.00001", "0.0001", "-0.0001", "1000000000000000", "1000000000000001", "-0", "0.000", "1e5", "0x10"]),
)
toml_values = st.recursive(
    st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["any", "x"]), children, max_size=2),
    max_leaves=8,
)
rule_tables = st.dictionaries(
    st.sampled_from(["id", "description", "verdict", "signal", "when", "advice", "enabled", "salience", "enabeld"]),
    toml_values | st.sampled_from(["keep", "terminate", "late_invoices_12m >= 3", "signal chronic-late-payer"]),
)


@st.composite
def hostile_rule_files(draw) -> str:
    """The playbook with numbers, facts, operators or text changed, random TOML, or any text at all."""
    kind = draw(st.sampled_from(["number", "condition", "fact", "operator", "splice", "toml", "text"]))
    if kind == "toml":
        document = {"rules": draw(st.lists(rule_tables, max_size=4))}
        if draw(st.booleans()):
            document["parameters"] = {"grace_days": draw(toml_values)}
        return tomli_w.dumps(document)
    if kind == "text":
        return draw(st.text(max_size=300))
    text = PLAYBOOK
    for _ in range(draw(st.integers(1, 3))):
        if kind == "number":
            spots = [m for m in re.finditer(r"(?<=[<>=] )-?\d+(\.\d+)?", text)]
            spot = draw(st.sampled_from(spots))
            text = text[: spot.start()] + draw(numbers) + text[spot.end() :]
        elif kind == "condition":
            spot = draw(st.sampled_from(list(re.finditer(r'"[a-z_0-9]+ [<>=!]+ [^"]+"', text))))
            fact = draw(st.sampled_from(sorted(FACTS)))
            value = draw(st.sampled_from(["true", "false"]) if FACTS[fact].kind is bool else numbers)
            condition = f'"{fact} {draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))} {value}"'
            text = text[: spot.start()] + condition + text[spot.end() :]
        elif kind == "fact":
            fact = draw(st.sampled_from(sorted(FACTS)))
            text = text.replace(fact, draw(st.sampled_from(sorted(FACTS)) | st.from_regex(r"[a-z_]{1,12}", fullmatch=True)))
        elif kind == "operator":
            text = text.replace(draw(st.sampled_from([" >= ", " == ", " < "])), draw(st.sampled_from([" => ", " = ", " <> ", " >== ", " ~ "])), 1)
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=20)) + text[at + draw(st.integers(0, 40)) :]
    return text


@pytest.fixture(scope="module")
def stories_db(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("rules") / "stories.db")
    with Ledger.open(db) as ledger:
        ledger.import_jsonl(STORIES)
    return db


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_rule_files())
def test_any_rule_file_is_refused_with_one_line_per_problem_or_runs_in_the_engine(stories_db, text):
    with Ledger.open(stories_db) as ledger:
        version = ledger.rules.current().version
    checked = cli_run("--db", stories_db, "rules", "check", "-", input=text)
    used = cli_run("--db", stories_db, "rules", "use", "-", input=text)
    if checked.exit_code == 0:
        assert re.fullmatch(r"ok: \d+ rules \(\d+ enabled\)\n", checked.stdout)
        assert used.exit_code == 0, used.output
        decided = cli_run("--db", stories_db, "evaluate", "--as-of", "2026-06-01", "--json")
        assert decided.exit_code == 0, decided.output  # whatever validation accepts, the engine runs
        assert {d["ruleset_version"] for d in json.loads(decided.stdout)} == {version + 1}
        return
    assert_clean_failure(checked)
    assert_clean_failure(used)
    first_problem = checked.stderr.splitlines()[0].removeprefix("error: ")
    assert used.stderr.startswith(f"error: invalid rule set: {first_problem}") and used.stderr.count("\n") == 1
    with Ledger.open(stories_db) as ledger:
        assert ledger.rules.current().version == version  # nothing adopted


fact_values = {
    bool: st.booleans(),
    int: st.integers(-(2**63), 2**63 - 1),
    float: st.floats(allow_nan=False, allow_infinity=False) | st.integers(-300, 300).map(lambda power: 10.0**power),
}
COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


values_written = {
    bool: st.sampled_from(["true", "false"]),
    int: st.integers(-(10**20), 10**20).map(str) | numbers,
    float: numbers | st.floats(-0.001, 0.001).map(lambda x: format(Decimal(repr(x)), "f")),
}


@HOSTILE
@given(st.sampled_from(sorted(FACTS)), st.sampled_from(sorted(COMPARE)), st.data())
def test_a_condition_validation_accepts_runs_in_the_engine_on_any_finite_fact(fact, op, data):
    value = data.draw(values_written[FACTS[fact].kind])
    text = f'{PLAYBOOK}[[rules]]\nid = "extra"\nverdict = "terminate"\nwhen = ["{fact} {op} {value}"]\n'
    try:
        ruleset = parse_ruleset(text)
    except RuleSetProblems as problems:
        assert len(problems.problems) == 1 and "\n" not in str(problems)
        return
    values = data.draw(st.fixed_dictionaries({}, optional={name: fact_values[spec.kind] for name, spec in FACTS.items()}))
    with DurableEngine(ruleset) as engine:
        fired = engine.decide("c", Facts(as_of=Instant.parse("2026-06-01"), values=values, evidence={})).fired
    threshold = ruleset.rule("extra").when[0].value
    assert ("extra" in fired) == (fact in values and COMPARE[op](values[fact], threshold))


def test_rule_files_that_are_not_utf8_or_too_large_are_one_clear_error(stories_db, tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(PLAYBOOK.replace("They pay late", "Ils paient en retard, hélas").encode("latin-1"))
    assert_clean_failure(cli_run("--db", stories_db, "rules", "check", str(latin1)), rf"error: {latin1} is not UTF-8 text")
    huge = PLAYBOOK + "".join(
        f'[[rules]]\nid = "s{n}"\nsignal = true\ndescription = "{"d" * 1000}"\nwhen = ["tenure_days == {n}"]\n' for n in range(100)
    )
    assert cli_run("--db", stories_db, "rules", "check", "-", input=huge).exit_code == 0  # valid, but too large to keep
    assert_clean_failure(
        cli_run("--db", stories_db, "rules", "use", "-", input=huge),
        r"error: invalid rule set: rule set: too large to keep: [\d,]+ bytes as an event with its note \(at most 65,536\)",
    )
    cycle = PLAYBOOK.replace('when = ["late_invoices_12m >= 3"]', 'when = ["signal late-payer-first-talk"]')
    assert_clean_failure(cli_run("--db", stories_db, "rules", "use", "-", input=cycle))


CODE = [
    "__import__('os').system('touch {sentinel}')",
    "late_invoices_12m >= __import__('os').system('touch {sentinel}')",
    "().__class__.__base__.__subclasses__()",
    "late_invoices_12m.__class__ >= 1",
    "lambda: open('{sentinel}', 'w')",
    "eval('1') >= 1",
    "exec('open(\"{sentinel}\", \"w\")')",
    "late_invoices_12m >= 1 or open('{sentinel}', 'w')",
    "late_invoices_12m >= 1; import os",
    "late_invoices_12m >= {{7*7}}",
    "late_invoices_12m >= ${{7*7}}",
    "late_invoices_12m >= 0x10",
    "late_invoices_12m >= 1_000",
    "$where >= 1",
    "late_invoices_12m $mt 1",
]


@pytest.mark.parametrize("expression", CODE)
def test_conditions_that_try_to_run_code_are_refused_as_validation_errors(stories_db, tmp_path, expression):
    sentinel = tmp_path / "ran"
    condition = expression.format(sentinel=sentinel)
    text = PLAYBOOK.replace('when = ["late_invoices_12m >= 3"]', f"when = [{json.dumps(condition)}]")
    for command in ("check", "use"):
        assert_clean_failure(
            cli_run("--db", stories_db, "rules", command, "-", input=text),
            r"error: (invalid rule set: )?rule 'chronic-late-payer': .*(cannot read|is not a value|bad operator|unknown fact).*",
        )
    assert not sentinel.exists()


def test_code_in_a_rules_text_fields_is_only_text(stories_db, tmp_path):
    sentinel = tmp_path / "ran"
    payload = f"__import__('os').system('touch {sentinel}') {{{{7*7}}}} <script>alert(1)</script>"
    text = PLAYBOOK.replace('description = "They pay late again and again"', f"description = {json.dumps(payload)}")
    text = re.sub(r"(?m)^advice = .*$", f"advice = {json.dumps(payload)}", text, count=1)
    assert cli_run("--db", stories_db, "rules", "use", "-", input=text).exit_code == 0
    decided = cli_run("--db", stories_db, "evaluate", "--as-of", "2026-06-01", "--json")
    assert decided.exit_code == 0 and not sentinel.exists()
    assert payload in cli_run("--db", stories_db, "rules", "show").stdout


def calls_that_run_text(package_dir: Path) -> list[str]:
    """Calls of eval, exec, compile or __import__ anywhere in a package's Python source."""
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"eval", "exec", "compile", "__import__"}:
                found.append(f"{path}:{node.lineno}: {node.func.id}")
    return found


def test_no_code_of_the_library_the_app_or_durable_rules_python_side_runs_text():
    for package in (clientrules, survey_app, durable):
        assert calls_that_run_text(Path(package.__file__).parent) == []


OPERATORS = {"$and", "$or", "$lt", "$lte", "$gt", "$gte", "$neq"}


def expression_names(expression: object) -> set[str]:
    """The keys of a durable-rules expression (operators and the property names they test)."""
    if isinstance(expression, dict):
        return {key for key in expression} | {name for value in expression.values() for name in expression_names(value)}
    if isinstance(expression, list):
        return {name for item in expression for name in expression_names(item)}
    assert isinstance(expression, (str, int, float, bool)), expression
    return set()


@settings(max_examples=60, deadline=None)
@given(rulesets())
def test_what_the_engine_gives_durable_rules_is_data_with_known_operators_and_python_actions(text):
    engine = DurableEngine(parse_ruleset(text))
    for rule in engine.run._definition.values():
        assert set(rule) == {"all", "pri", "run"} and callable(rule["run"]) and isinstance(rule["pri"], int)
        for pattern in rule["all"]:
            ((name, expression),) = pattern.items()
            assert re.fullmatch(r"facts|stage|signal\d+|not\d+\$not", name)
            assert expression_names(expression) <= OPERATORS | set(FACTS) | {"t", "name", "n"}
    engine.close()


# -- survey form posts ------------------------------------------------------------------------

form_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from([*REASON_LABELS, "0", "5", "11", "-1", "1.5", "yes", "y", "on", "", " ", "\x00", "NaN", "1e9"]),
    st.integers(-(10**20), 10**20).map(str),
)


@pytest.fixture
def survey(db_url: str, tmp_path: Path, monkeypatch):
    clean_environment(monkeypatch)
    app = make_app(db_url, tmp_path)
    yield app
    close_app(app)


def answers_stored(app) -> list:
    return [e for e in app.extensions["clientrules"].ledger.store.read_all() if isinstance(e.payload, SurveyAnswered)]


def fresh_link(app, number: int) -> str:
    ledger = app.extensions["clientrules"].ledger
    add_departed(ledger, f"leaver-{number}")
    return "/s/" + app.extensions["clientrules"].ledger.surveys.invite(f"leaver-{number}").token


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from([*FIELDS, "csrf_token", "unknown", "other_reasons[]"]) | st.text(max_size=10),
        st.lists(form_values, min_size=1, max_size=4),
        max_size=12,
    ),
    st.booleans(),
)
def test_random_form_posts_get_the_form_with_messages_or_a_thank_you_never_a_500(survey, fields, keep_token):
    path = fresh_link(survey, len(survey.extensions["clientrules"].ledger.clients()))
    browser = survey.test_client()
    token = csrf_token(browser.get(path).get_data(as_text=True))
    if keep_token:
        fields = {**fields, "csrf_token": [token]}
    before = len(answers_stored(survey))
    response = browser.post(path, data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code in (303, 400), page
    if response.status_code == 303:
        assert len(answers_stored(survey)) == before + 1
        return
    assert len(answers_stored(survey)) == before
    assert "Traceback" not in page
    assert 'role="alert"' in page or "This form has expired" in page  # the error summary, or the CSRF page


@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"what_to_change": "x" * 5_001}, 400, "Please keep this under 5,000 characters (it has 5,001)."),
        ({"what_to_change": "é" * 2**20}, 413, "What was sent is too large."),
        ({"other_reasons": ["quality"] * 10_000}, 400, "Each reason can be chosen once."),
        ({"other_reasons": [f"r{n}" for n in range(10_000)]}, 400, "Please choose only reasons from the list."),
        ({"unknown": "x" * 300_000}, 413, "What was sent is too large."),
        ({"other_reasons": ["quality", "bribes"]}, 400, "Please choose only reasons from the list."),
        ({"primary_reason": "bribes"}, 400, "Please choose one of the reasons listed."),
        ({"primary_reason": ""}, 400, "Please choose the main reason."),
        ({"recommend": "99999999999999999999999"}, 400, "Please choose a number from 0 to 10."),
        ({"rating_value": "\x00"}, 400, "Please choose a number from 1 to 5."),
        ({"would_return": ["yes", "no"]}, 303, "/thanks"),
    ],
    ids=["5,001 characters", "a 1 MB answer", "10,000 reasons", "10,000 unknown reasons", "a 300 KB body", "an unknown reason",
         "an unknown main reason", "no main reason", "a huge number", "a NUL", "two answers to one question"],
)
def test_huge_and_malformed_answers_get_their_message_and_store_nothing(survey, changes, status, says):
    path = fresh_link(survey, 0)
    browser = survey.test_client()
    token = csrf_token(browser.get(path).get_data(as_text=True))
    response = browser.post(path, data={**FULL_FORM, **changes, "csrf_token": token})
    assert response.status_code == status
    assert says in (response.headers.get("Location", "") if status == 303 else response.get_data(as_text=True))
    assert len(answers_stored(survey)) == (status == 303)


# -- numbers and moments at the edges, options and settings out of range (both backends) ------------

EDGE_MOMENTS = [
    "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
    "0001-01-01T00:30:00+05:00",  # year 0 in UTC
    "9999-12-31",
    "0001-01-01",
    "0999-12-31T23:59:59Z",
    "9000-01-01",
]
EDGE_NUMBERS = [10**309, -(10**309), 10**400, 10**4_301 - 1]


@st.composite
def edge_lines(draw) -> str:
    """A story line with a number near or past the edges of float or of Python's integer reading, or an edge moment."""
    obj = json.loads(draw(st.sampled_from(STORY_LINES)))
    where = draw(st.sampled_from(["at", "number", "unknown key", "date field"]))
    if where == "at":
        obj["at"] = draw(st.sampled_from(EDGE_MOMENTS) | st.datetimes(
            min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31),
            timezones=st.sampled_from([dt.timezone(dt.timedelta(hours=h)) for h in (-12, -5, 0, 5, 14)]),
        ).map(dt.datetime.isoformat))
    elif where == "date field" and isinstance(obj.get("data"), dict):
        for key in ("due_on", "paid_on"):
            if key in obj["data"]:
                obj["data"][key] = draw(st.sampled_from(["9999-12-31", "0001-01-01", "0999-01-01", "9000-06-30"]))
    else:
        number = draw(st.sampled_from(EDGE_NUMBERS) | st.integers(-(10**320), 10**320))
        data = obj.setdefault("data", {})
        numeric = [key for key, value in data.items() if isinstance(value, (int, float)) and not isinstance(value, bool)]
        key = draw(st.sampled_from(numeric)) if numeric and where == "number" else "unknown_key"
        data[key] = number
    sys.set_int_max_str_digits(0)  # to write the test's own 4,301-digit numbers
    try:
        return json.dumps(obj)
    finally:
        sys.set_int_max_str_digits(4_300)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def edge_store(request, tmp_path_factory) -> str:
    """One store per backend for the edge cases (each example checks that a refusal stores nothing)."""
    from conftest import STORE_BACKENDS

    url = STORE_BACKENDS[request.param](request, tmp_path_factory.mktemp("edge"))
    assert cli_run("--db", url, "import", str(STORIES)).exit_code == 0
    return url


def head_of(url: str) -> int:
    with Ledger.open(url) as ledger:
        return ledger.store.head_position()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(edge_lines(), min_size=1, max_size=3))
def test_numbers_and_moments_at_the_edges_are_stored_or_refused_with_one_line_on_both_backends(edge_store, lines):
    before = head_of(edge_store)
    result = cli_run("--db", edge_store, "import", "-", input="\n".join(lines) + "\n")
    if result.exit_code == 0:
        assert cli_run("--db", edge_store, "evaluate", "--as-of", "2026-07-01", "--json").exit_code == 0
        return
    assert_clean_failure(result, r"error: line \d+: .+ \(in <stdin>; nothing was stored\)")
    assert head_of(edge_store) == before


@pytest.mark.parametrize("moment", EDGE_MOMENTS[:5])
@pytest.mark.parametrize(
    "command",
    [("evaluate", "--as-of"), ("history", "sauvage-bags", "--until"), ("facts", "sauvage-bags", "--as-of"),
     ("explain", "sauvage-bags", "--as-of")],
    ids=lambda c: c[0],
)
def test_moments_outside_the_calendar_in_options_are_one_line_errors(edge_store, command, moment):
    result = cli_run("--db", edge_store, *command, moment)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()[-1:]) == 1 and "outside the years" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("survey", "remind", "--after-days", "99999999"),
        ("evaluate", "--workers", "100000"),
        ("facts", "sauvage-bags", "--grace-days", "9999999999"),
        ("rules", "show", "--version", "99999999999999999999"),
        ("rules", "use", "--expected-version", "99999999999999999999", "-"),
        ("worker", "--batch", "99999999999999999999"),
        ("worker", "--idle-exit", "1e300"),
        ("serve", "--port", "99999999"),
        ("serve", "--threads", "99999999"),
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_every_numeric_option_out_of_range_is_a_usage_error(edge_store, args):
    before = head_of(edge_store)
    result = cli_run("--db", edge_store, *args, input="")
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.stderr and "Traceback" not in result.output
    assert head_of(edge_store) == before


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CLIENTRULES_SURVEY_EXPIRY_DAYS", "3000000"), ("CLIENTRULES_SURVEY_EXPIRY_DAYS", "9" * 5000),
     ("CLIENTRULES_SURVEY_EXPIRY_DAYS", "0")],
)
def test_numeric_environment_variables_out_of_range_are_one_line_errors(edge_store, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    before = head_of(edge_store)
    result = cli_run("--db", edge_store, "survey", "invite", "sauvage-bags")
    assert_clean_failure(result)
    assert variable in result.stderr
    assert head_of(edge_store) == before


@pytest.mark.parametrize(
    "setting",
    ["SURVEY_EXPIRY_DAYS", "LOGIN_WINDOW_MINUTES", "LOGIN_MAX_FAILURES", "MAIL_PORT", "TRUSTED_PROXIES"],
)
def test_numeric_settings_of_the_web_app_out_of_range_are_one_line_errors(tmp_path, setting):
    from clientrules.config import SettingsError, load_settings

    for value in ("3000000", "9" * 5000, "-1", "\u00b2"):
        with pytest.raises(SettingsError, match=f"CLIENTRULES_{setting}=.* is not a whole number from") as raised:
            load_settings(environ={f"CLIENTRULES_{setting}": value})
        assert "\n" not in str(raised.value)
