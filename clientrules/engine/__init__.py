"""The rules engine adapter: rule sets run by durable-rules, one client at a time."""

from clientrules.engine.durable import DurableEngine, EngineError

__all__ = ["DurableEngine", "EngineError"]
