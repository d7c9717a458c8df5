"""Decisions: verdicts with their reasons, explanations and near misses."""

from clientrules.domain.decisions.model import Decision, Reason

__all__ = ["Decision", "Reason"]
