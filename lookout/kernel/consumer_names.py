"""The names of a service's JetStream consumers, which NATS permissions grant by name."""

from __future__ import annotations


def durable(service: str, name: str) -> str:
    return f"{service}-{name}"


def replay_consumer(service: str) -> str:
    """The one short-lived consumer a service replays a stream with (`lookout reports rebuild`).
    NATS permissions match whole tokens only, so it has one fixed name, not a prefix."""
    return f"{service}-replay"
