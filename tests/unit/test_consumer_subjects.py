"""A kernel consumer with several filter subjects: its JetStream config, the checks on what
`consume` is given, and how `lookout docs` describes it."""

from __future__ import annotations

import types
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from faststream import FastStream
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.cli import docs
from lookout.contracts.envelope import Event
from lookout.kernel.service import ServiceKernel
from lookout.kernel.settings import Settings
from services.patrol import app as patrol

FILTERS = ("visitor.*.overdue", "visitor.*.out_of_bounds", "visitor.*.checked_out")
MEMORY = {f"{s}_db_url": "sqlite+aiosqlite:///:memory:" for s in ("patrol",)}


async def nothing(session: AsyncSession, events: Sequence[Event]) -> Mapping[uuid.UUID, str]:
    return {}


@pytest.fixture
def kernel() -> ServiceKernel:
    return patrol.create_kernel(Settings(log_level="WARNING", **MEMORY))


def test_several_subjects_go_to_filter_subjects_one_to_filter_subject(
    kernel: ServiceKernel,
) -> None:
    several = kernel.consume("VISITORS", nothing, subjects=FILTERS, name="visits")
    one = kernel.consume("VISITORS", nothing, subject="visitor.*.sighted", name="sightings")
    whole = kernel.consume("PATROL", nothing)

    config = several.config()
    assert (config.durable_name, config.filter_subject) == ("patrol-visits", None)
    assert config.filter_subjects == list(FILTERS)
    assert several.subjects == FILTERS
    config = one.config()
    assert (config.filter_subject, config.filter_subjects) == ("visitor.*.sighted", None)
    assert (one.subject, whole.subject) == ("visitor.*.sighted", "patrol.>")
    assert kernel.consumers == [
        ("VISITORS", "patrol-visits"),
        ("VISITORS", "patrol-sightings"),
        ("PATROL", "patrol-patrol"),
    ]


def test_consume_refuses_subject_and_subjects_together_and_a_bare_string(
    kernel: ServiceKernel,
) -> None:
    with pytest.raises(ValueError, match="give subject or subjects, not both"):
        kernel.consume("VISITORS", nothing, subject=FILTERS[0], subjects=FILTERS[1:])
    with pytest.raises(TypeError, match="subjects must be a sequence of subjects"):
        kernel.consume("VISITORS", nothing, subjects="visitor.*.overdue")
    assert kernel.stream_consumers == []


def test_docs_describe_a_several_subject_durable_with_the_events_of_each_subject(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def build_app(k: ServiceKernel) -> FastStream:
        k.consume("VISITORS", nothing, subjects=FILTERS, name="visits", description="Visits.")
        return patrol.build_app(k)

    module = types.SimpleNamespace(create_kernel=patrol.create_kernel, build_app=build_app)
    monkeypatch.setattr(docs, "service_module", lambda name: module)
    doc = docs.asyncapi_document(["patrol"], Settings(log_level="WARNING", **MEMORY))

    channel = doc["channels"]["patrol:visits"]
    assert channel["address"] is None
    assert channel["x-lookout-subjects"] == list(FILTERS)
    assert channel["bindings"]["nats"] == {"subjects": list(FILTERS), "bindingVersion": "custom"}
    message: dict[str, Any] = doc["components"]["messages"]["patrol:visits:SubscribeMessage"]
    assert message["payload"]["oneOf"] == [
        {"$ref": "#/components/schemas/VisitorCheckedOut"},
        {"$ref": "#/components/schemas/VisitorOverdue"},
        {"$ref": "#/components/schemas/VisitorOutOfBounds"},
    ]
    # A one-subject durable keeps its address.
    assert doc["channels"]["patrol:concerns"]["address"] == "concern.>"
