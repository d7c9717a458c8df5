"""Drafts: the owner's templates for the notes and agendas of next steps, checked and filled safely (pure).

- :mod:`~clientrules.domain.drafts.fields`: the documented fields a template can use, and how values are written;
- :mod:`~clientrules.domain.drafts.sandbox`: checking and filling owner-written templates in a sandbox
  (Jinja: imported when a template is first checked or filled, not with this package);
- :mod:`~clientrules.domain.drafts.table`: the ``[drafts]`` table of a rule file, validated.

A rule file carries its drafts, so :mod:`clientrules.domain.rules` reads the
table through this package; :mod:`clientrules.domain.next_steps` fills them
with a client's values.
"""

from clientrules.domain.drafts.fields import FIELDS, DraftSettings, FieldDoc, plain_amount
from clientrules.domain.events.dates import plain_date
from clientrules.domain.drafts.table import DRAFT_NAMES, Drafts, default_drafts, read_drafts
from clientrules.domain.errors import DraftError

__all__ = [
    "DRAFT_NAMES",
    "FIELDS",
    "DraftError",
    "DraftSettings",
    "Drafts",
    "FieldDoc",
    "default_drafts",
    "plain_amount",
    "plain_date",
    "read_drafts",
]
