"""Facts: the projection that folds one client's events into the facts rules match (``docs/rules.md``).

Fold a client's events once, then ask for its facts as of any moment::

    fold = ClientFold()
    fold.apply_all(store.read_client("acme"))           # any order of ``at``
    facts = fold.facts(Instant.parse("2026-06-01"), grace_days=7)
    facts.values["late_invoices_12m"], facts.evidence["late_invoices_12m"]

    fold.apply_all(store.read_client("acme", after_version=fold.version))   # only what is new
    saved = json.dumps(fold.to_snapshot())                # ... and later
    fold = ClientFold.from_snapshot(json.loads(saved))

``facts_of(events, as_of)`` does both steps for a one-off question. What every
fact means: :data:`FACTS` (``clientrules/domain/facts/catalogue.py``).
"""

from clientrules.domain.facts.catalogue import FACTS, FactSpec
from clientrules.domain.facts.fold import ClientFold, FactsError, facts_of
from clientrules.domain.facts.value import Facts

__all__ = ["FACTS", "ClientFold", "FactSpec", "Facts", "FactsError", "facts_of"]
