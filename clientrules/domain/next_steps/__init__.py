"""Next steps for a decision and the drafts that go with them (pure: no I/O).

- :mod:`~clientrules.domain.next_steps.steps`: the steps, derived from the verdict, the rules that fired and the history;
- :mod:`~clientrules.domain.next_steps.fields`: the documented fields a draft can use, and their values for a client;
- :mod:`~clientrules.domain.next_steps.drafts`: the ``[drafts]`` table of a rule file, validated;
- :mod:`~clientrules.domain.next_steps.sandbox`: checking and filling owner-written templates safely.
"""

from clientrules.domain.next_steps.drafts import DRAFT_NAMES, Drafts, default_drafts, read_drafts
from clientrules.domain.next_steps.fields import FIELDS, DraftSettings, FieldDoc, draft_fields
from clientrules.domain.next_steps.sandbox import DraftError, check_template
from clientrules.domain.next_steps.steps import NextSteps, Step, derive_steps, follow_through_from

__all__ = [
    "DRAFT_NAMES",
    "FIELDS",
    "DraftError",
    "DraftSettings",
    "Drafts",
    "FieldDoc",
    "NextSteps",
    "Step",
    "check_template",
    "default_drafts",
    "derive_steps",
    "draft_fields",
    "follow_through_from",
    "read_drafts",
]
