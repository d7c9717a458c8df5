"""Importing a CSV export (by preset, recognised header or mapping file) into the ledger, all or nothing."""

from __future__ import annotations

import attrs

from clientrules.domain.events import Clock
from clientrules.domain.importing import ImportPlan, KnownClient, Mapping, plan_import, preset, recognise
from clientrules.domain.importing.mapping import ImportRefused, parse_mapping
from clientrules.ports import AppendResult, EventStore


@attrs.frozen
class CsvImportResult:
    """The plan (what was, or with a dry run would be, stored) and the store's count, None for a dry run."""

    mapping: Mapping
    plan: ImportPlan
    appended: AppendResult | None


class CsvImports:
    """Plans an import against the clients already known, then stores it in one transaction."""

    def __init__(self, store: EventStore, *, currency: str, payment_terms_days: int, clock: Clock) -> None:
        self._store = store
        self._currency = currency
        self._terms = payment_terms_days
        self._clock = clock

    def mapping(self, text: str, *, preset_name: str | None = None, mapping_text: str | None = None, origin: str = "") -> Mapping:
        """The mapping asked for: a mapping file's, a preset's, else the preset the header fits."""
        if mapping_text is not None:
            return parse_mapping(mapping_text, origin=origin or "the mapping file")
        if preset_name is not None:
            return preset(preset_name)
        return recognise(text)

    def run(self, text: str, mapping: Mapping, *, dry_run: bool = False) -> CsvImportResult:
        """Plan the import of ``text``; unless ``dry_run``, store the plan's events (all or none)."""
        known = {
            client: KnownClient.of(client, self._store.read_client(client), self._currency)
            for client in self._store.client_ids()
        }
        plan = plan_import(
            text,
            mapping,
            known,
            today=self._clock().date,
            default_currency=self._currency,
            payment_terms_days=self._terms,
        )
        if dry_run:
            return CsvImportResult(mapping, plan, None)
        return CsvImportResult(mapping, plan, self._store.append(plan.events))


__all__ = ["CsvImportResult", "CsvImports", "ImportRefused"]
