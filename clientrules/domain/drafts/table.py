"""The ``[drafts]`` table of a rule file: the owner's draft templates and settings, validated (pure).

Drafts live in the rule file, so they are versioned, checked and adopted with
``rules check`` / ``rules use`` exactly like rules. Keys left out keep their
default (``clientrules/domain/drafts/default_drafts.toml``)::

    [drafts]
    business = "Atelier Marie"
    partner = "Big Support Co"
    meeting_agenda = \"\"\"
    Meeting with {{ client_name }} ...
    \"\"\"

A template is refused when it names an unknown field or reads an undocumented
key (see :mod:`clientrules.domain.drafts.sandbox`), and when it cannot be
filled for a sample client with every field set and for one with none set.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any, Mapping

import attrs

from clientrules.domain.drafts.fields import DraftSettings, empty_fields, sample_fields
from clientrules.domain.errors import DraftError
from clientrules.domain.suggestions import did_you_mean

#: the draft templates, in the order the steps use them
DRAFT_NAMES = (
    "meeting_agenda",
    "written_plan",
    "check_in",
    "ending_note",
    "ending_conduct",
    "ending_breach",
    "ending_late_payment",
    "ending_silence",
    "ending_unprofitable",
    "referral_note",
)
_TEXT_SETTINGS = ("business", "signature", "partner")
SETTING_KEYS = (*_TEXT_SETTINGS, "notice_days")
MAX_SETTING_CHARS = 200


@attrs.frozen
class Drafts:
    """Every draft template (defaults filled in), the settings, and the ``[drafts]`` table as written."""

    templates: Mapping[str, str]
    settings: DraftSettings = DraftSettings()
    #: the keys the rule file gave (written back by ``ruleset_to_toml``); empty: all defaults
    written: Mapping[str, Any] = attrs.field(factory=dict)

    def fill(self, name: str, fields: Mapping[str, Any]) -> str:
        """Draft ``name`` filled with ``fields``.

        Raises :class:`~clientrules.domain.errors.DraftError` with one line saying why not.
        """
        from clientrules.domain.drafts import sandbox  # Jinja, loaded when a draft is first filled

        return sandbox.fill(self.templates[name], fields)

    def is_default(self, name: str) -> bool:
        return name not in self.written


@functools.lru_cache(maxsize=1)
def default_drafts() -> Drafts:
    """The drafts shipped with the library."""
    text = resources.files("clientrules.domain.drafts").joinpath("default_drafts.toml").read_text("utf-8")
    table = tomllib.loads(text)["drafts"]
    return Drafts(
        templates={name: table[name] for name in DRAFT_NAMES},
        settings=DraftSettings(**{key: table[key] for key in SETTING_KEYS}),
    )


def read_drafts(table: object, problems: list[str]) -> Drafts:
    """The drafts of a rule file's ``[drafts]`` table; each problem found is appended to ``problems``."""
    defaults = default_drafts()
    if table is None:
        return defaults
    if not isinstance(table, dict):
        problems.append("drafts: must be a table ([drafts])")
        return defaults
    before = len(problems)
    allowed = (*SETTING_KEYS, *DRAFT_NAMES)
    for key in table:
        if key not in allowed:
            problems.append(f"drafts: unknown key {key!r}{did_you_mean(key, list(allowed))}")
    for key in _TEXT_SETTINGS:
        value = table.get(key, "")
        if not isinstance(value, str) or len(value) > MAX_SETTING_CHARS or "\n" in value:
            problems.append(f"drafts: {key} must be one line of text of at most {MAX_SETTING_CHARS} characters")
    notice_days = table.get("notice_days", defaults.settings.notice_days)
    if isinstance(notice_days, bool) or not isinstance(notice_days, int) or not 0 <= notice_days <= 365:
        problems.append("drafts: notice_days must be a whole number of days from 0 to 365")
    for name in DRAFT_NAMES:
        if name in table:
            problems.extend(f"drafts: {name}: {problem}" for problem in _template_problems(table[name]))
    if len(problems) > before:
        return defaults
    return Drafts(
        templates={name: table.get(name, defaults.templates[name]) for name in DRAFT_NAMES},
        settings=DraftSettings(
            **{key: table.get(key, getattr(defaults.settings, key)) for key in SETTING_KEYS}
        ),
        written=dict(table),
    )


def _template_problems(text: object) -> list[str]:
    if not isinstance(text, str):
        return ["must be text (a TOML string; use \"\"\" for several lines)"]
    from clientrules.domain.drafts import sandbox  # Jinja, loaded when a rule file first brings templates

    problems = sandbox.check_template(text)
    if problems:
        return problems
    for example, fields in (("every field set", sample_fields()), ("no field set", empty_fields())):
        try:
            sandbox.fill(text, fields)
        except DraftError as error:
            return [f"cannot be filled for a client with {example}: {error}"]
    return []
