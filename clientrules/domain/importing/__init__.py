"""Importing the CSV exports of invoicing and time tools, by preset or mapping file (pure: text in, events out)."""

from clientrules.domain.importing.mapping import PRESETS, ImportRefused, Mapping, parse_mapping, preset, preset_text
from clientrules.domain.importing.plan import ImportPlan, KnownClient, client_id_from_name, plan_import
from clientrules.domain.importing.recognise import recognise

__all__ = [
    "PRESETS",
    "ImportPlan",
    "ImportRefused",
    "KnownClient",
    "Mapping",
    "client_id_from_name",
    "parse_mapping",
    "plan_import",
    "preset",
    "preset_text",
    "recognise",
]
