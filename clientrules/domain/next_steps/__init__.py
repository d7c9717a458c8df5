"""Next steps for a decision and the drafts that go with them (pure: no I/O).

- :mod:`~clientrules.domain.next_steps.steps`: the steps, derived from the verdict, the rules that fired and the history;
- :mod:`~clientrules.domain.next_steps.fields`: the value of every draft field for one client.

The drafts themselves (the templates, the fields they may use, the ``[drafts]``
table of a rule file) are :mod:`clientrules.domain.drafts`, a layer below the
rules, which read that table; their names are handed on here.
"""

from clientrules.domain.drafts import (
    DRAFT_NAMES,
    FIELDS,
    DraftError,
    DraftSettings,
    Drafts,
    FieldDoc,
    default_drafts,
    read_drafts,
)
from clientrules.domain.next_steps.fields import draft_fields
from clientrules.domain.next_steps.steps import CHECK_IN_TOPIC, NextSteps, Step, after_steps, derive_steps, follow_through_from

__all__ = [
    "CHECK_IN_TOPIC",
    "DRAFT_NAMES",
    "FIELDS",
    "DraftError",
    "DraftSettings",
    "Drafts",
    "FieldDoc",
    "NextSteps",
    "Step",
    "default_drafts",
    "after_steps",
    "derive_steps",
    "draft_fields",
    "follow_through_from",
    "read_drafts",
]
