"""Facts: the projection that folds one client's events into the facts rules match (``spec/playbook.md``)."""

from clientrules.facts.catalogue import FACTS, FactSpec
from clientrules.facts.fold import ClientFold, FactsError, facts_of
from clientrules.facts.value import Facts

__all__ = ["FACTS", "ClientFold", "FactSpec", "Facts", "FactsError", "facts_of"]
