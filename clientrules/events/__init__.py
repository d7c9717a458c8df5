"""Events: the vocabulary of ``spec/events.md`` as typed, validated values (pure: no I/O)."""

from clientrules.events.event import Event, check_client_id, content_id
from clientrules.events.instant import Instant, as_instant
from clientrules.events.jsonl import iter_events, read_events, write_events
from clientrules.events.registry import Registry, registry
from clientrules.events.system import *  # noqa: F403
from clientrules.events.system import __all__ as _system_names
from clientrules.events.types import *  # noqa: F403
from clientrules.events.types import INCIDENT_KINDS, SPEC_TYPES, Payload

__all__ = [
    "Event",
    "INCIDENT_KINDS",
    "Instant",
    "Payload",
    "Registry",
    "SPEC_TYPES",
    "as_instant",
    "check_client_id",
    "content_id",
    "iter_events",
    "read_events",
    "registry",
    "write_events",
    *_system_names,
    *[t.__name__ for t in SPEC_TYPES],
]
