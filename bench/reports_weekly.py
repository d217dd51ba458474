"""Reports benchmarks: render one school's weekly summary over a school year of history, and
rebuild that read model from the streams.

    .venv/bin/python bench/reports_weekly.py [--days 180] [--rebuild-events 250000]

1. Render: a school year (default 180 school days, ~1,390 events a day ≈ 250k events: scans,
   check windows, contacts, observations, concerns raised and resolved, alerts, visitors) is
   applied through the service's handlers into a fresh SQLite read model; then the summary of a
   week in the middle is rendered with its charts (cold: first render in the process, which
   imports matplotlib; warm: the median of 5 more). Target ≤ 2 s.
2. Rebuild: the same events published to an embedded nats-server, then `rebuild` (clear +
   replay of every stream through the handlers and the inbox) timed: events/s.
Figures go to docs/benchmarks.md by hand ("Reports").
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from lookout.contracts.alerts import AlertAcknowledged, AlertEscalated, AlertOpened, AlertResolved
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckpointScanned,
    CheckWindowClosed,
    ConcernRaised,
    ConcernResolved,
    ContactLogged,
    ObservationLogged,
)
from lookout.contracts.subjects import BY_MODEL, subject_of
from lookout.contracts.visitors import VisitorCheckedIn
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from lookout.kernel.storage import Inbox, make_engine, make_sessionmaker, upgrade_database
from services.reports import store
from services.reports.app import MIGRATIONS, create_kernel
from services.reports.handlers import ReportHandlers
from services.reports.mailer import Summaries
from services.reports.rebuild import rebuild

SCHOOL = load_school(EXAMPLE_SCHOOL)
SSO = {"kind": "sso_device", "id": "phone-1"}
SVC = {"kind": "service", "id": "bench"}
CATS = ["vaping", "conflict", "bullying", "other", "hazard"]
SEVS = ["low", "medium", "high", "critical"]
KINDS = ["positive_contact", "check_in", "de_escalation", "referral_to_counselor"]


def school_days(n: int) -> list[date]:
    days, d = [], date(2026, 8, 24)
    while len(days) < n:
        if SCHOOL.is_school_day(d):
            days.append(d)
        d += timedelta(days=1)
    return days


def day_events(day: date, rng: random.Random) -> list[Event]:
    tz = SCHOOL.tz
    zones = [z.id for z in SCHOOL.zones]
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(hours=7, minutes=15)

    def t() -> datetime:
        return start + timedelta(seconds=rng.randrange(0, 8 * 3600 + 30 * 60))

    def new(model: Any, when: datetime, actor: dict[str, str] = SSO, **f: Any) -> Event:
        return model.new(school_id="lhs", occurred_at=when, actor=actor, **f)  # type: ignore[no-any-return]

    out: list[Event] = []
    for _ in range(1000):
        z = rng.choice(SCHOOL.zones)
        out.append(
            new(CheckpointScanned, t(), zone_id=z.id, checkpoint_tag=z.checkpoints[0], method="nfc")
        )
    for _ in range(300):
        w = t()
        outcome = rng.choices(["checked", "late", "missed"], [8, 1, 1])[0]
        out.append(
            new(
                CheckWindowClosed,
                w + timedelta(minutes=7),
                SVC,
                zone_id=rng.choice(zones),
                window_start=w,
                window_end=w + timedelta(minutes=7),
                outcome=outcome,
                unannounced=rng.random() < 0.05,
            )
        )
    for _ in range(40):
        out.append(
            new(ContactLogged, t(), kind=rng.choice(KINDS), student_refs=["S-100001"], note="n")
        )
    for _ in range(10):
        out.append(new(ObservationLogged, t(), zone_id=rng.choice(zones), category="vaping"))
    for _ in range(12):
        cid, when = uuid.uuid4(), t()
        out.append(
            new(
                ConcernRaised,
                when,
                concern_id=cid,
                category=rng.choice(CATS),
                severity=rng.choice(SEVS),
                zone_id=rng.choice(zones),
                student_refs=["S-100001"],
            )
        )
        if rng.random() < 0.8:
            out.append(
                new(
                    ConcernResolved,
                    when + timedelta(minutes=30),
                    concern_id=cid,
                    outcome="resolved_by_sso",
                )
            )
    for _ in range(4):
        aid, when = uuid.uuid4(), t()
        a = {"alert_id": aid}
        out.append(
            new(
                AlertOpened,
                when,
                SVC,
                dedup_key=str(aid),
                source="concern",
                severity="high",
                source_event_id=uuid.uuid4(),
                **a,
            )
        )
        out.append(
            new(
                AlertEscalated,
                when,
                SVC,
                step=0,
                repeat=0,
                targets=[{"kind": "role", "id": "principal"}],
                **a,
            )
        )
        out.append(
            new(AlertAcknowledged, when + timedelta(minutes=5), SVC, by_person_id="ap-chen", **a)
        )
        out.append(
            new(
                AlertResolved,
                when + timedelta(minutes=40),
                SVC,
                by_person_id="ap-chen",
                outcome_note="x",
                **a,
            )
        )
    for _ in range(10):
        when = t()
        out.append(
            new(
                VisitorCheckedIn,
                when,
                {"kind": "front_office", "id": "office"},
                visit_id=uuid.uuid4(),
                badge_number="0101-001",
                visitor_type="parent",
                host_id="ap-chen",
                destination_zones=["main-office"],
                purpose="meeting",
                expected_until=when + timedelta(hours=1),
            )
        )
    return sorted(out, key=lambda e: e.occurred_at)


def by_stream(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {"PATROL": [], "CONCERNS": [], "VISITORS": [], "ALERTS": []}
    for e in events:
        out[BY_MODEL[type(e)].stream].append(e)
    return out


async def bench_render(events: list[Event], week: str, db: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await upgrade_database(engine, MIGRATIONS, store.SERVICE)
    sessions = make_sessionmaker(engine)
    handlers = ReportHandlers({"lhs": SCHOOL})
    inbox = Inbox(store.inbox)
    started = time.perf_counter()
    for stream, evs in by_stream(events).items():
        for i in range(0, len(evs), 5000):
            async with sessions.begin() as session:
                chunk = evs[i : i + 5000]
                await handlers.by_stream[stream](session, chunk)
                await inbox.record(session, chunk, datetime.now(UTC))
    load = time.perf_counter() - started
    print(f"loaded {len(events):,} events through the handlers in {load:.1f}s")
    summaries = Summaries({"lhs": SCHOOL}, Settings())
    times = []
    for _ in range(6):
        t0 = time.perf_counter()
        async with sessions() as session:
            rendered = await summaries.render(session, "lhs", week)
        times.append(time.perf_counter() - t0)
    kb = (len(rendered.html) + sum(len(p) for p in rendered.images.values())) // 1024
    print(
        f"render {week} with charts: cold {times[0]:.2f}s, warm median "
        f"{statistics.median(times[1:]):.2f}s (max {max(times[1:]):.2f}s); {kb} KiB"
    )
    await engine.dispose()


async def bench_rebuild(events: list[Event], tmp: Path) -> None:
    import nats

    from lookout.kernel.messaging import ensure_streams
    from lookout.local.runtime import EmbeddedNats

    server = EmbeddedNats(store_dir=tmp / "js").start()
    try:
        settings = Settings(
            data_dir=tmp / "data",
            nats_url=server.url,
            reports_db_url=f"sqlite+aiosqlite:///{tmp / 'rebuild.db'}",
        )
        await ensure_streams(settings)
        nc = await nats.connect(server.url)
        t0 = time.perf_counter()
        for e in events:  # core publish: the streams store them; one flush at the end
            await nc.publish(subject_of(e), e.model_dump_json().encode())
        await nc.flush()
        js = nc.jetstream()
        while sum(  # noqa: ASYNC110
            [
                (await js.stream_info(s)).state.messages
                for s in ("PATROL", "CONCERNS", "VISITORS", "ALERTS")
            ]
        ) < len(events):
            await asyncio.sleep(0.1)
        print(f"published {len(events):,} events in {time.perf_counter() - t0:.1f}s")
        kernel = create_kernel(settings, ManualClock(datetime(2027, 6, 1, tzinfo=UTC)))
        await upgrade_database(kernel.engine, MIGRATIONS, store.SERVICE)
        handlers = ReportHandlers(kernel.schools)
        for run in (1, 2):
            reply = await rebuild(kernel, handlers, js)
            print(
                f"rebuild #{run}: {reply.applied:,} events applied in {reply.seconds:.1f}s = "
                f"{reply.applied / reply.seconds:,.0f} events/s"
            )
        await kernel.engine.dispose()
        await nc.close()
    finally:
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--rebuild-events", type=int, default=250_000)
    args = parser.parse_args()
    rng = random.Random(7)
    t0 = time.perf_counter()
    events = [e for d in school_days(args.days) for e in day_events(d, rng)]
    print(
        f"generated {len(events):,} events over {args.days} school days in "
        f"{time.perf_counter() - t0:.1f}s"
    )
    mid = school_days(args.days)[args.days // 2]
    year, num, _ = mid.isocalendar()
    with tempfile.TemporaryDirectory() as tmp:
        await bench_render(events, f"{year}-W{num:02d}", Path(tmp) / "render.db")
        if args.rebuild_events:
            await bench_rebuild(events[: args.rebuild_events], Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
