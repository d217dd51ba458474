"""The visitors service process: front-office commands and queries (request-reply), badge
sightings from the SSO (VISITORS stream), and its timers.

Run with `lookout run visitors` (or `faststream run services.visitors.app:create_app --factory`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faststream import Context, FastStream
from faststream.nats import NatsRouter
from faststream.nats.message import NatsMessage

from lookout.contracts.subjects import BY_MODEL
from lookout.contracts.visitors import (
    DrillAccount,
    DrillEnd,
    DrillQuery,
    DrillStart,
    EndOfDay,
    Held,
    Roster,
    Screen,
    SignIn,
    SignOut,
    VisitorSighted,
)
from lookout.kernel.clock import Clock
from lookout.kernel.queries import command_subject, query_subject, request_subscriber
from lookout.kernel.service import ServiceKernel, by_type
from lookout.kernel.settings import Settings, load_school
from services.visitors import store
from services.visitors.drills import DrillHandlers
from services.visitors.handlers import VisitorHandlers
from services.visitors.providers.registry import providers
from services.visitors.screening import UnavailableCounter
from services.visitors.timers import DrillDayEnd, EndOfDayCheckout, OverdueVisits, PiiPurge
from services.visitors.watchlist import WatchlistProvider

MIGRATIONS = Path(__file__).parent / "migrations"


def create_kernel(settings: Settings | None = None, clock: Clock | None = None) -> ServiceKernel:
    return ServiceKernel(
        store.SERVICE,
        inbox=store.inbox,
        outbox=store.outbox,
        migrations=MIGRATIONS,
        settings=settings,
        clock=clock,
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastStream:
    return build_app(create_kernel(settings, clock))


def watchlists(kernel: ServiceKernel) -> dict[str, WatchlistProvider]:
    """Each school's watchlist provider, by the name in its school file (`csv` by default)."""
    files = {load_school(path).id: path for path in kernel.settings.school_paths()}
    return providers(kernel.schools, files)


def build_app(kernel: ServiceKernel) -> FastStream:
    """The visitors app on a given kernel (tests build the kernel themselves to reach its parts)."""
    by_school = watchlists(kernel)
    unavailable = UnavailableCounter(kernel.metrics.registry, store.SERVICE)
    for school_id, provider in by_school.items():
        unavailable.watch(school_id, provider.name)
    handlers = VisitorHandlers(
        kernel.schools,
        by_school,
        kernel.sessions,
        kernel.outbox,
        kernel.clock,
        on_unavailable=unavailable,
    )
    drills = DrillHandlers(handlers.commit, kernel.sessions, kernel.clock)
    kernel.use_timers(
        OverdueVisits(kernel.outbox),
        EndOfDayCheckout(kernel.outbox, kernel.schools),
        DrillDayEnd(kernel.outbox, kernel.schools),
        PiiPurge(),
    )
    router = NatsRouter()
    kernel.follow_day_types(store.day_types)  # an early release checks visitors out earlier
    apply_sightings = by_type({VisitorSighted: handlers.sightings})

    # Only the SSO's sightings: our own outputs share the VISITORS stream.
    sighted = BY_MODEL[VisitorSighted].wildcard

    kernel.consume(
        "VISITORS",
        apply_sightings,
        subject=sighted,
        name="sightings",
        description="Badge sightings from the SSO: out of bounds when outside the visit's zones.",
    )

    def request(kind: str, name: str) -> dict[str, Any]:
        make = command_subject if kind == "command" else query_subject
        # `…visitors.<name>.<person>`: who acts is the last token, never a body field.
        return request_subscriber(make("*", store.SERVICE, name, "*"), store.SERVICE)

    @router.subscriber(**request("command", "sign_in"))
    async def sign_in(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Sign a visitor in: screened against the watchlist; admitted or held for a decision."""
        return await handlers.request(message.raw_message.subject, body, SignIn, handlers.sign_in)

    @router.subscriber(**request("command", "sign_out"))
    async def sign_out(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Sign a visitor out by badge number or visit id."""
        return await handlers.request(message.raw_message.subject, body, SignOut, handlers.sign_out)

    @router.subscriber(**request("command", "screen"))
    async def screen(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """A staff member's Yes / No / Not sure about a possible watchlist match."""
        return await handlers.request(message.raw_message.subject, body, Screen, handlers.screen)

    @router.subscriber(**request("query", "roster"))
    async def roster(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Who is in the building right now: the evacuation list."""
        return await handlers.request(message.raw_message.subject, body, Roster, handlers.roster)

    @router.subscriber(**request("query", "held"))
    async def held(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Sign-ins waiting for a screening decision, each with its possible matches."""
        return await handlers.request(message.raw_message.subject, body, Held, handlers.held)

    @router.subscriber(**request("query", "end_of_day"))
    async def end_of_day(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Who never signed out on a day: closed by the end-of-day checkout, unaccounted for."""
        return await handlers.request(
            message.raw_message.subject, body, EndOfDay, handlers.end_of_day
        )

    @router.subscriber(**request("command", "drill_start"))
    async def drill_start(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Start an evacuation drill (or answer the one already open)."""
        subject = message.raw_message.subject
        return await handlers.request(subject, body, DrillStart, drills.start)

    @router.subscriber(**request("command", "drill_account"))
    async def drill_account(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """Mark a visitor accounted for in a drill (again: no change)."""
        subject = message.raw_message.subject
        return await handlers.request(subject, body, DrillAccount, drills.account)

    @router.subscriber(**request("command", "drill_end"))
    async def drill_end(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """End a drill before everyone is accounted for."""
        subject = message.raw_message.subject
        return await handlers.request(subject, body, DrillEnd, drills.end)

    @router.subscriber(**request("query", "drill"))
    async def drill(body: Any, message: NatsMessage = Context("message")) -> dict[str, Any]:
        """A drill (the open one, else the latest) and who is still unaccounted for."""
        subject = message.raw_message.subject
        return await handlers.request(subject, body, DrillQuery, drills.query)

    return kernel.app(router)
