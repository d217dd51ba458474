"""Kubernetes restarts a live service that is not ready for longer than a bound (issue 13,
item 1): a process whose event loop answers but which is not connected to NATS (or never
finished starting) is not left running; readiness still takes it out of rotation at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SERVICES = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "services.yaml"


def containers() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(SERVICES.read_text("utf-8")):
        if doc and doc.get("kind") == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                found[c["name"]] = c
    return found


def test_every_service_has_its_probes() -> None:
    assert sorted(containers()) == ["alerts", "patrol", "reports", "visitors", "web"]


def test_liveness_fails_after_60_s_of_not_ready() -> None:
    for name, c in containers().items():
        live = c["livenessProbe"]
        assert live["httpGet"] == {"path": "/readyz", "port": "health"}, name
        assert live["periodSeconds"] * live["failureThreshold"] == 60, name


def test_readiness_takes_a_service_out_at_once() -> None:
    for name, c in containers().items():
        ready = c["readinessProbe"]
        assert ready["httpGet"] == {"path": "/readyz", "port": "health"}, name
        assert ready["periodSeconds"] * ready["failureThreshold"] == 10, name


def test_liveness_starts_once_the_service_was_ready_and_startup_has_two_minutes() -> None:
    for name, c in containers().items():
        start = c["startupProbe"]
        assert start["httpGet"] == {"path": "/readyz", "port": "health"}, name
        assert start["periodSeconds"] * start["failureThreshold"] == 120, name
