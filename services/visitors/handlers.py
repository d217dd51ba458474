"""Visitor handlers: front-office commands and queries (each its own transaction), and badge
sightings from the SSO (applied inside the consumer's transaction).

Everything a command changes and everything it emits is written in one transaction (events
through the outbox), so a refused or failed command stores nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.bounds import date_of_birth_fault
from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.visitors import (
    CheckoutMethod,
    EndOfDay,
    EndOfDayReply,
    Held,
    HeldReply,
    HeldVisit,
    IdType,
    PossibleMatch,
    Roster,
    RosterEntry,
    RosterReply,
    Screen,
    ScreeningAnswer,
    ScreeningDecision,
    ScreeningFlagged,
    SignIn,
    SignOut,
    UnaccountedEntry,
    VisitorCheckedIn,
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorSighted,
    VisitorType,
    VisitReply,
    VisitStatus,
)
from lookout.kernel.clock import Clock
from lookout.kernel.queries import ErrorReply, Refused, answer, request_school
from lookout.kernel.storage import Outbox
from lookout.school.config import SchoolConfig
from services.visitors import domain, drills
from services.visitors.screening import OnUnavailable, screen_or_hold
from services.visitors.store import SERVICE, Admitted, VisitorRepository
from services.visitors.watchlist import WatchlistProvider

log = logging.getLogger("lookout.visitors")

Req = TypeVar("Req", bound=BaseModel)
Refusals = dict[uuid.UUID, str]
SERVICE_ACTOR = Actor(kind=ActorKind.SERVICE, id=SERVICE)


class VisitorHandlers:
    def __init__(
        self,
        schools: Mapping[str, SchoolConfig],
        watchlists: Mapping[str, WatchlistProvider],
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        clock: Clock,
        after_commit: Callable[[], None] = lambda: None,
        on_unavailable: OnUnavailable = lambda school, provider, failure: None,
    ) -> None:
        self.schools = schools
        self.watchlists = watchlists
        self.sessions = sessions
        self.outbox = outbox
        self.clock = clock
        self.after_commit = after_commit
        self.on_unavailable = on_unavailable

    # --- request plumbing -------------------------------------------------------------------

    async def request(
        self,
        subject: str,
        raw: bytes,
        model: type[Req],
        handle: Callable[[SchoolConfig, Req], Awaitable[BaseModel]],
    ) -> dict[str, Any]:
        """Answer a request on `command|query.<school>.visitors.<name>.<person>` for that
        school, acting as that person (the server confines each user to its own id)."""
        school_id = request_school(subject)
        school = self.schools.get(school_id)
        if school is None:
            return ErrorReply(error="school: not a school of this deployment").model_dump()
        return await answer(raw, model, lambda req: handle(school, req), subject)

    async def commit(
        self, work: Callable[[AsyncSession, datetime], Awaitable[tuple[Any, list[Event]]]]
    ) -> Any:
        """Run `work` in one transaction with its events in the outbox; retry once when a
        concurrent sign-in took the same badge number (PostgreSQL replicas)."""
        for attempt in range(3):
            now = self.clock.now()
            try:
                async with self.sessions.begin() as session:
                    result, events = await work(session, now)
                    await self.outbox.add(session, events, now)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            if events:
                self.after_commit()
            return result
        raise AssertionError("unreachable")

    # --- sign in ----------------------------------------------------------------------------

    async def sign_in(self, school: SchoolConfig, req: SignIn) -> VisitReply:
        today = self.clock.now().astimezone(school.tz).date()  # the school's day
        if (reason := date_of_birth_fault(req.date_of_birth, today)) is not None:
            raise Refused(reason)
        if (reason := domain.refuse_sign_in(school, req)) is not None:
            raise Refused(reason)
        async with self.sessions() as session:
            again = await VisitorRepository(session).by_request(req.request_id) is not None
        # A retry of a stored sign-in is answered with its visit below: not screened again.
        matches = (
            []
            if again
            else await screen_or_hold(
                self.watchlists[school.id],
                school.id,
                req.first_name,
                req.last_name,
                req.date_of_birth,
                school.visitors.match_threshold,
                self.on_unavailable,
            )
        )

        async def work(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
            repo = VisitorRepository(session)
            existing = await repo.by_request(req.request_id)
            if existing is not None:  # the client's retry: same visit, nothing new
                if existing.school_id != school.id:
                    raise Refused("request_id: already used for another school")
                return existing.visit_id, []
            visit_id = uuid.uuid4()
            held = bool(matches)
            status = VisitStatus.PENDING_SCREENING if held else VisitStatus.ON_SITE
            await repo.add_visit(visit_id, school.id, req, VisitStatus.PENDING_SCREENING, now)
            await repo.add_matches(
                visit_id,
                [
                    {
                        "watchlist_entry_id": m.entry.entry_id,
                        "provider": m.provider,
                        "score": m.score,
                        "listed_name": m.entry.listed_name[:130],
                        "kind": m.entry.kind,
                        "note": m.entry.note,
                        "date_of_birth_check": m.date_of_birth and m.date_of_birth.value,
                        "review_band": m.band and m.band.value,
                        "listed_date_of_birth": m.entry.date_of_birth,
                    }
                    for m in matches
                ],
            )
            events: list[Event] = []
            if status is VisitStatus.ON_SITE:
                events.append(await self._admit(repo, school, str(visit_id), now))
            else:
                # A held visit is closed at the end of the day like any other.
                await repo.hold_until(str(visit_id), domain.day_end(school, now))
            log.info(
                "event=signed_in school=%s visit=%s status=%s matches=%d",
                school.id,
                visit_id,
                status.value,
                len(matches),
            )
            return str(visit_id), events

        visit_id = await self.commit(work)
        return await self.visit_reply(school, visit_id)

    async def _admit(
        self, repo: VisitorRepository, school: SchoolConfig, visit_id: str, now: datetime
    ) -> VisitorCheckedIn:
        visit = await repo.get(school.id, uuid.UUID(visit_id))
        assert visit is not None
        day = now.astimezone(school.tz).date()
        seq = await repo.next_badge_seq(school.id, day)
        timers = domain.admit(school, now, visit.expected_minutes)
        admitted = Admitted(
            badge_day=day,
            badge_seq=seq,
            badge_number=domain.badge_number(day, seq),
            checked_in_at=now,
            expected_until=timers.expected_until,
            overdue_at=timers.overdue_at,
            auto_checkout_at=timers.auto_checkout_at,
        )
        await repo.admit(visit_id, admitted)
        return VisitorCheckedIn.new(
            school_id=school.id,
            occurred_at=now,
            actor=Actor(kind=ActorKind.FRONT_OFFICE, id=visit.signed_in_by),
            visit_id=uuid.UUID(visit_id),
            badge_number=admitted.badge_number,
            visitor_type=VisitorType(visit.visitor_type),
            host_id=visit.host_id,
            destination_zones=list(visit.destination_zones),
            purpose=visit.purpose,
            expected_until=timers.expected_until,
        )

    # --- sign out ---------------------------------------------------------------------------

    async def sign_out(self, school: SchoolConfig, req: SignOut) -> VisitReply:
        if (reason := domain.refuse_staff(school, "signed_out_by", req.signed_out_by)) is not None:
            raise Refused(reason)

        async def work(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
            repo = VisitorRepository(session)
            if req.visit_id is not None:
                visit = await repo.get(school.id, req.visit_id)
                if visit is None:
                    raise Refused("visit_id: no such visit in this school")
            else:
                assert req.badge_number is not None
                visit = await repo.by_badge(school.id, req.badge_number)
                if visit is None:
                    raise Refused("badge_number: no visit with this badge")
            status = VisitStatus(visit.status)
            if status is VisitStatus.CHECKED_OUT:
                return visit.visit_id, []  # already out: the same answer again
            if status is VisitStatus.PENDING_SCREENING:
                raise Refused(
                    f"visit {visit.visit_id} is pending screening: answer the screening first"
                )
            if status is VisitStatus.DENIED:
                raise Refused(f"visit {visit.visit_id} was denied entry; it was never on site")
            await repo.close(
                visit.visit_id,
                VisitStatus.CHECKED_OUT,
                now,
                domain.purge_at(school, now),
                method=CheckoutMethod.FRONT_OFFICE,
                by=req.signed_out_by,
            )
            event = VisitorCheckedOut.new(
                school_id=school.id,
                occurred_at=now,
                actor=Actor(kind=ActorKind.FRONT_OFFICE, id=req.signed_out_by),
                visit_id=uuid.UUID(visit.visit_id),
                badge_number=visit.badge_number,
                method=CheckoutMethod.FRONT_OFFICE,
            )
            # Signed out during an evacuation drill: seen leaving, so accounted for.
            left = await drills.account_signed_out(
                session, school, visit.visit_id, req.signed_out_by, now
            )
            return visit.visit_id, [event, *left]

        visit_id = await self.commit(work)
        return await self.visit_reply(school, visit_id)

    # --- screening --------------------------------------------------------------------------

    async def screen(self, school: SchoolConfig, req: Screen) -> VisitReply:
        if (reason := domain.refuse_staff(school, "decided_by", req.decided_by)) is not None:
            raise Refused(reason)

        async def work(session: AsyncSession, now: datetime) -> tuple[str, list[Event]]:
            repo = VisitorRepository(session)
            visit = await repo.get(school.id, req.visit_id)
            if visit is None:
                raise Refused("visit_id: no such visit in this school")
            if visit.status != VisitStatus.PENDING_SCREENING.value:
                raise Refused(f"visit {visit.visit_id} is {visit.status}, not pending screening")
            answers = await repo.latest_answers(visit.visit_id)
            entry = req.watchlist_entry_id
            if entry is None:
                if len(answers) != 1:
                    raise Refused(
                        f"watchlist_entry_id: visit {visit.visit_id} has {len(answers)} "
                        "possible matches; name the one you answer"
                    )
                (entry,) = answers
            if entry not in answers:
                raise Refused("watchlist_entry_id: not a possible match of this visit")
            events: list[Event] = []
            flag_id: uuid.UUID | None = None
            if domain.flags(req.answer):
                scores = {m.watchlist_entry_id: m.score for m in await repo.matches(visit.visit_id)}
                flag = ScreeningFlagged.new(
                    school_id=school.id,
                    occurred_at=now,
                    actor=Actor(kind=ActorKind.STAFF, id=req.decided_by),
                    visit_id=uuid.UUID(visit.visit_id),
                    watchlist_entry_id=entry,
                    score=scores[entry],
                    decision=ScreeningDecision(req.answer.value),
                    decided_by=req.decided_by,
                )
                flag_id = flag.event_id
                events.append(flag)
            await repo.add_decision(
                visit_id=visit.visit_id,
                watchlist_entry_id=entry,
                answer=req.answer.value,
                decided_by=req.decided_by,
                note=req.note,
                decided_at=now,
                flag_event_id=str(flag_id) if flag_id else None,
            )
            answers[entry] = req.answer
            status = domain.screening_status(answers)
            if status is VisitStatus.ON_SITE:
                events.append(await self._admit(repo, school, visit.visit_id, now))
            elif status is VisitStatus.DENIED:
                await repo.close(
                    visit.visit_id, VisitStatus.DENIED, now, domain.purge_at(school, now)
                )
            log.info(
                "event=screening_answered school=%s visit=%s entry=%s answer=%s status=%s",
                school.id,
                visit.visit_id,
                entry,
                req.answer.value,
                status.value,
            )
            return visit.visit_id, events

        visit_id = await self.commit(work)
        return await self.visit_reply(school, visit_id)

    # --- queries ----------------------------------------------------------------------------

    async def visit_reply(self, school: SchoolConfig, visit_id: str) -> VisitReply:
        async with self.sessions() as session:
            repo = VisitorRepository(session)
            visit = await repo.get(school.id, uuid.UUID(visit_id))
            assert visit is not None
            matches = await repo.matches(visit_id)
            answers = await repo.latest_answers(visit_id)
        return VisitReply(
            visit_id=uuid.UUID(visit.visit_id),
            status=VisitStatus(visit.status),
            badge_number=visit.badge_number,
            destination_zones=list(visit.destination_zones),
            expected_until=visit.expected_until,
            badge_valid_until=visit.auto_checkout_at if visit.badge_number else None,
            checked_out_at=visit.checked_out_at,
            checkout_method=visit.checkout_method,
            possible_matches=[_possible(m, answers.get(m.watchlist_entry_id)) for m in matches],
        )

    async def roster(self, school: SchoolConfig, req: Roster) -> RosterReply:
        statuses = [VisitStatus.ON_SITE]
        if req.include_pending:
            statuses.append(VisitStatus.PENDING_SCREENING)
        hosts = {p.id: p.name for p in school.people}
        async with self.sessions() as session:
            rows = await VisitorRepository(session).roster(school.id, statuses)
        return RosterReply(
            as_of=self.clock.now(),
            visitors=[
                RosterEntry(
                    **domain.visit_listing(r, hosts),
                    status=VisitStatus(r.status),
                    since=r.signed_in_at,
                    expected_until=r.expected_until,
                    overdue=r.overdue_reported_at is not None,
                )
                for r in rows
            ],
        )

    async def held(self, school: SchoolConfig, req: Held) -> HeldReply:
        hosts = {p.id: p.name for p in school.people}
        async with self.sessions() as session:
            repo = VisitorRepository(session)
            found = []
            for r in await repo.held(school.id):
                matches = await repo.matches(r.visit_id)
                answers = await repo.latest_answers(r.visit_id)
                found.append(
                    HeldVisit(
                        visit_id=uuid.UUID(r.visit_id),
                        first_name=r.first_name,
                        last_name=r.last_name,
                        date_of_birth=r.date_of_birth,
                        id_type=IdType(r.id_type),
                        visitor_type=VisitorType(r.visitor_type),
                        host_id=r.host_id,
                        host_name=hosts.get(r.host_id, r.host_id),
                        destination_zones=list(r.destination_zones),
                        since=r.signed_in_at,
                        possible_matches=[
                            _possible(m, answers.get(m.watchlist_entry_id)) for m in matches
                        ],
                    )
                )
        return HeldReply(as_of=self.clock.now(), visits=found)

    async def end_of_day(self, school: SchoolConfig, req: EndOfDay) -> EndOfDayReply:
        day = req.day or self.clock.now().astimezone(school.tz).date()
        hosts = {p.id: p.name for p in school.people}
        async with self.sessions() as session:
            rows = await VisitorRepository(session).closed_unseen(school.id, day)
        return EndOfDayReply(
            day=day,
            visitors=[
                UnaccountedEntry(
                    **domain.visit_listing(r, hosts),
                    since=r.checked_in_at,
                    expected_until=r.expected_until,
                    checked_out_at=r.checked_out_at,
                )
                for r in rows
            ],
        )

    # --- sightings (from the VISITORS stream) -----------------------------------------------

    async def sightings(self, session: AsyncSession, events: Sequence[Event]) -> Refusals:
        repo = VisitorRepository(session)
        refused: Refusals = {}
        emitted: list[Event] = []
        for e in events:
            assert isinstance(e, VisitorSighted)
            school = self.schools[e.school_id]  # its zone was judged: lookout.kernel.admission
            visit = await repo.by_badge(school.id, e.badge_number)
            if visit is None:
                refused[e.event_id] = "badge_number: no visit with this badge"
                continue
            window = domain.VisitWindow(
                visit.checked_in_at, visit.checked_out_at, tuple(visit.destination_zones)
            )
            outside = domain.out_of_bounds(school, window, e.zone_id, e.occurred_at)
            await repo.add_sighting(
                event_id=str(e.event_id),
                school_id=school.id,
                badge_number=e.badge_number,
                visit_id=visit.visit_id,
                zone_id=e.zone_id,
                seen_by=e.actor.id,
                seen_at=e.occurred_at,
                out_of_bounds=int(outside),
            )
            await repo.seen(visit.visit_id, e.zone_id, e.occurred_at)
            if outside:
                emitted.append(
                    VisitorOutOfBounds.new(
                        school_id=school.id,
                        occurred_at=e.occurred_at,
                        actor=SERVICE_ACTOR,
                        visit_id=uuid.UUID(visit.visit_id),
                        badge_number=e.badge_number,
                        zone_id=e.zone_id,
                        destination_zones=list(visit.destination_zones),
                    )
                )
        await self.outbox.add(session, emitted, self.clock.now())
        return refused


def _possible(m: Any, latest: ScreeningAnswer | None) -> PossibleMatch:
    return PossibleMatch(
        watchlist_entry_id=m.watchlist_entry_id,
        score=m.score,
        listed_name=m.listed_name,
        kind=m.kind,
        note=m.note,
        answer=latest,
        date_of_birth_check=m.date_of_birth_check,
        listed_date_of_birth=m.listed_date_of_birth,
    )
