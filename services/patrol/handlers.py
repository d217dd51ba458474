"""Patrol handlers: apply a run of validated events inside the consumer's transaction.

Each returns the events it refused (event_id → reason) and writes nothing for those.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
)
from lookout.school import SchoolConfig
from services.patrol import domain
from services.patrol.store import PatrolRepository

E = TypeVar("E", bound=Event)
Refusals = dict[uuid.UUID, str]


def _split(
    events: Sequence[Event],
    schools: Mapping[str, SchoolConfig],
    refuse: Callable[[SchoolConfig, E], str | None],
) -> tuple[list[E], Refusals]:
    ok: list[E] = []
    refused: Refusals = {}
    for e in events:
        reason = refuse(schools[e.school_id], e)  # type: ignore[arg-type]
        if reason is None:
            ok.append(e)  # type: ignore[arg-type]
        else:
            refused[e.event_id] = reason
    return ok, refused


class PatrolHandlers:
    def __init__(self, schools: Mapping[str, SchoolConfig]) -> None:
        self.schools = schools

    async def checkpoint_scans(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        ok, refused = _split(events, self.schools, domain.refuse_scan)
        if ok:
            await PatrolRepository(session).add_scans(ok)
        return refused

    async def observations(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        ok, refused = _split(events, self.schools, domain.refuse_observation)
        if ok:
            await PatrolRepository(session).add_observations(ok)
        return refused

    async def contacts(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        ok, refused = _split(events, self.schools, domain.refuse_contact)
        if ok:
            await PatrolRepository(session).add_contacts(ok)
        return refused

    async def concern_events(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        # One at a time, in order: each step of the lifecycle depends on the one before.
        repo = PatrolRepository(session)
        refused: Refusals = {}
        for e in events:
            assert isinstance(e, ConcernRaised | ConcernUpdated | ConcernResolved)
            current = await repo.concern_state(e.concern_id)
            reason = domain.refuse_concern_event(self.schools[e.school_id], e, current)
            if reason is not None:
                refused[e.event_id] = reason
            elif isinstance(e, ConcernRaised):
                await repo.raise_concern(e)
            elif isinstance(e, ConcernUpdated):
                await repo.update_concern(e)
            else:
                await repo.resolve_concern(e)
        return refused
