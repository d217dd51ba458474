"""The supervisor's readiness watch: a service process that is alive but has not been ready
(`/readyz` 200) for longer than a bound is restarted, as Kubernetes' liveness probe does.

Alive is not enough: a process whose NATS connection is gone and does not come back, or that
never finished starting, would otherwise run on doing nothing. Each child gets a health port of
its own on loopback when its environment names none (LOOKOUT_HEALTH_PORT), so the watch can ask;
a child told to bind port 0 (a free port it alone knows) is not watched.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

# How long a live service may stay not ready (starting included) before it is restarted.
NOT_READY_SECONDS = 60.0
# How often each child is asked: often enough for the bound, rarely enough to cost nothing.
PROBE_EVERY_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 1.0


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_ready(port: int, host: str = "127.0.0.1", timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """`/readyz` answered 200. Refused, 503, a timeout (a wedged loop): not ready."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=timeout) as r:
            return int(r.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class _Watched:
    port: int
    host: str
    ready_at: float  # the last time it was seen ready, or its start
    probed_at: float = float("-inf")


@dataclass
class ReadinessWatch:
    not_ready_seconds: float = NOT_READY_SECONDS
    probe_every_seconds: float = PROBE_EVERY_SECONDS
    now: Callable[[], float] = time.monotonic
    probe: Callable[[int, str], bool] = is_ready
    _children: dict[str, _Watched] = field(default_factory=dict)

    def prepare(self, env: MutableMapping[str, str]) -> None:
        """Before a child starts: give it a loopback health port when it has none."""
        if not env.get("LOOKOUT_HEALTH_PORT", "").strip():
            env["LOOKOUT_HEALTH_PORT"] = str(free_loopback_port())
            env["LOOKOUT_HEALTH_HOST"] = "127.0.0.1"

    def started(self, name: str, env: MutableMapping[str, str]) -> None:
        """A child just started: the bound runs from now."""
        port = env.get("LOOKOUT_HEALTH_PORT", "").strip()
        if not port.isdigit() or int(port) == 0:
            self._children.pop(name, None)  # no port we can ask
            return
        host = env.get("LOOKOUT_HEALTH_HOST", "").strip()
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._children[name] = _Watched(int(port), host, ready_at=self.now())

    def overdue(self, name: str) -> float | None:
        """For a live child: the seconds it has not been ready, when past the bound."""
        watched = self._children.get(name)
        if watched is None:
            return None
        now = self.now()
        if now - watched.probed_at >= self.probe_every_seconds:
            watched.probed_at = now
            if self.probe(watched.port, watched.host):
                watched.ready_at = now
        waited = now - watched.ready_at
        return waited if waited > self.not_ready_seconds else None
