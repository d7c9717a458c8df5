"""The documentation says what the code does: every event field, every fact, every setting, and no dead link.

The site itself is built with ``mkdocs build --strict`` by ``make test``; these
tests hold the reference pages to the code they describe, so a new event field,
fact or environment variable fails here until it is documented.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import attrs
import pytest

from clientrules.domain.events.registry import registry
from clientrules.domain.events.types import DATA_KEY
from clientrules.domain.facts.catalogue import FACTS

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
README = REPO / "README.md"
KINDS = {int: "whole number", float: "number", bool: "true/false"}


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading."""
    start = markdown.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(r"^#", markdown[start:], flags=re.MULTILINE)
    return markdown[start:] if following is None else markdown[start : start + following.start()]


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the Markdown tables in ``text``."""
    rows = [line.strip().strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows if not set(row[0]) <= set("-")][1:]


@pytest.mark.parametrize("type_name", registry.names())
def test_the_event_reference_documents_every_field_of_every_type(type_name: str) -> None:
    payload_type = registry.payload_type(type_name)
    fields = [f for f in attrs.fields(payload_type) if f.name != "extra"]
    expected = {f.metadata.get(DATA_KEY, f.name): f.default is attrs.NOTHING for f in fields}
    documented: dict[str, bool] = {}
    for row in table_rows(section((DOCS / "events.md").read_text(encoding="utf-8"), f"#### {type_name}")):
        for key in re.findall(r"`([a-z_]+)`", row[0]):
            documented[key] = row[2] == "yes"
    assert documented == expected


def test_the_rule_reference_gives_every_fact_with_its_exact_definition() -> None:
    facts = section((DOCS / "rules.md").read_text(encoding="utf-8"), "## Facts")
    documented = {row[0].strip("`"): (row[1], row[2]) for row in table_rows(facts)}
    assert documented == {name: (KINDS[spec.kind], spec.meaning) for name, spec in FACTS.items()}


def test_the_rule_reference_includes_the_default_playbook_file() -> None:
    rules = (DOCS / "rules.md").read_text(encoding="utf-8")
    assert '--8<-- "clientrules/domain/rules/default_playbook.toml"' in rules


def settings_module() -> ModuleType:
    """The module that reads the ``CLIENTRULES_*`` settings (its ``Settings`` fields name them)."""
    for name in ("clientrules.config", "survey_app.settings"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, "Settings"):
            return module
    raise AssertionError("no settings module: update this test to where the settings are read")


def environment_variables() -> set[str]:
    """Every ``CLIENTRULES_*`` name the library and the app read: named in their code, or built from the settings."""
    settings = settings_module()
    named = {
        name
        for path in [*REPO.joinpath("clientrules").rglob("*.py"), *REPO.joinpath("survey_app").rglob("*.py")]
        for name in re.findall(r"\bCLIENTRULES_[A-Z][A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8"))
    }
    return named | {settings.PREFIX + field.name.upper() for field in attrs.fields(settings.Settings)}


def test_the_configuration_page_names_every_environment_variable() -> None:
    configuration = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(name for name in environment_variables() if f"`{name}`" not in configuration)
    assert not missing


def test_the_readme_is_a_short_front_door_without_dangling_references() -> None:
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 400
    assert not re.search(r"\bspec/|\bnotes/|\.\./shared", readme)


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_lead_to_files_in_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", text)
    missing = [target for target in targets if not (page.parent / target).exists()]
    assert not missing
    assert not re.search(r"\bspec/[a-z-]+\.md|\bnotes/[a-z-]+\.md|\.\./shared", text)


@pytest.mark.parametrize("page", sorted(DOCS.glob("guarantees*.md")), ids=lambda p: p.name)
def test_every_test_the_guarantees_cite_exists(page: Path) -> None:
    """Each ``tests/x.py::test_name`` (and each ``::test_name`` after it, of the same file) names a real test."""
    cited: list[tuple[str, str | None]] = []
    for row in table_rows(page.read_text(encoding="utf-8")):
        module = None
        for reference in re.findall(r"`((?:tests/[a-z_]+\.py)?(?:::[a-z0-9_]+)?)`", row[-1]):
            path, _, name = reference.partition("::")
            module = path or module
            assert module is not None, reference
            cited.append((module, name or None))
    assert len(cited) > 10
    missing = [
        f"{module}::{name}" if name else module
        for module, name in cited
        if not (REPO / module).exists()
        or (name and not re.search(rf"^def {name}\(", (REPO / module).read_text(encoding="utf-8"), re.MULTILINE))
    ]
    assert not missing
