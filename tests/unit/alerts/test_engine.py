"""The escalation engine on a real database (SQLite, and PostgreSQL when configured) with a
manual clock: events open and fold alerts, the ticker fires due steps, commands ack/resolve.

No broker: events are applied the way the consumer applies them (inside one transaction), and
what the service emits is read back from its outbox.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from lookout.contracts.alerts import AckRequest, ListRequest, ResolveRequest, ShowRequest
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckMissed, ConcernRaised, ConcernResolved, ConcernUpdated
from lookout.contracts.visitors import (
    ScreeningFlagged,
    VisitorCheckedOut,
    VisitorOutOfBounds,
    VisitorOverdue,
)
from lookout.kernel.clock import ManualClock
from lookout.kernel.queries import Refused
from lookout.kernel.service import ServiceKernel, by_type
from lookout.kernel.ticker import Ticker
from services.alerts import store
from services.alerts.app import create_kernel
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertCommands, AlertHandlers
from services.alerts.timers import EscalationTimers, OutcomeNotePurge

ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 08:00 in Chicago
STUDENT = "S-104233"
NOTE = "Jordan was upset after lunch"


@dataclass
class Engine:
    kernel: ServiceKernel
    clock: ManualClock
    escalator: Escalator
    commands: AlertCommands
    ticker: Ticker

    async def deliver(self, *events: Event) -> None:
        handlers = AlertHandlers(self.escalator, self.clock)
        apply = by_type(
            {
                ConcernRaised: handlers.raise_alerts,
                CheckMissed: handlers.raise_alerts,
                ConcernResolved: handlers.concerns_resolved,
                ConcernUpdated: handlers.concerns_updated,
                VisitorOverdue: handlers.raise_alerts,
                VisitorOutOfBounds: handlers.raise_alerts,
                ScreeningFlagged: handlers.raise_alerts,
                VisitorCheckedOut: handlers.visitors_left,
            }
        )
        async with self.kernel.sessions.begin() as session:
            assert await apply(session, events) == {}

    async def tick(self) -> int:
        return (await self.ticker.tick())["escalations"]

    async def rows(self, table: Any, *where: Any) -> list[dict[str, Any]]:
        async with self.kernel.sessions() as session:
            stmt = select(table).where(*where)
            if "id" in table.c:
                stmt = stmt.order_by(table.c.id)
            return [dict(r._mapping) for r in await session.execute(stmt)]

    async def alert(self) -> dict[str, Any]:
        (row,) = await self.rows(store.alerts)
        return row

    async def timeline(self, alert_id: str | None = None) -> list[tuple[Any, ...]]:
        where = [] if alert_id is None else [store.alert_timeline.c.alert_id == alert_id]
        return [
            (r["kind"], r["step"], r["repeat"], r["person_id"], r["channel"], r["outcome"])
            for r in await self.rows(store.alert_timeline, *where)
        ]

    async def emitted(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r["subject"], json.loads(r["payload"])) for r in await self.rows(store.outbox)]


@pytest.fixture
async def engine(alerts_db: str, settings_for: Any) -> AsyncIterator[Engine]:
    clock = ManualClock(T0)
    kernel = create_kernel(settings_for(alerts=alerts_db), clock)
    escalator = Escalator(kernel.schools, kernel.outbox)
    commands = AlertCommands(kernel.sessions, kernel.schools, escalator, clock, lambda: None)
    ticker = Ticker(kernel.sessions, clock, [EscalationTimers(escalator)])
    yield Engine(kernel, clock, escalator, commands, ticker)
    await kernel.engine.dispose()


def concern(
    severity: str = "low", category: str = "vaping", cid: uuid.UUID | None = None
) -> ConcernRaised:
    return ConcernRaised.new(
        school_id="lhs",
        occurred_at=T0,
        actor=ACTOR,
        concern_id=cid or uuid.uuid4(),
        category=category,
        severity=severity,
        zone_id="bath-1n-boys",
        student_refs=[STUDENT],
        note=NOTE,
    )


def missed(zone: str = "cafeteria") -> CheckMissed:
    return CheckMissed.new(
        school_id="lhs",
        occurred_at=T0,
        actor={"kind": "service", "id": "patrol"},
        zone_id=zone,
        window_start=T0 - timedelta(minutes=30),
        window_end=T0,
    )


def subjects(emitted: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    return [s for s, _ in emitted]


# --- opening ------------------------------------------------------------------------------------


async def test_a_concern_opens_an_alert_and_fires_step_zero_in_the_same_transaction(
    engine: Engine,
) -> None:
    event = concern()
    await engine.deliver(event)

    alert = await engine.alert()
    aid = str(alert["alert_id"])
    assert {k: alert[k] for k in alert if k not in ("alert_id", "policy")} == {
        "school_id": "lhs",
        "dedup_key": f"concern:{event.concern_id}",
        "source": "concern",
        "category": "vaping",
        "severity": "low",
        "zone_id": "bath-1n-boys",
        "source_event_id": str(event.event_id),
        "status": "open",
        "count": 1,
        "policy_name": "default",
        "step": 1,
        "repeat": 0,
        "next_step_at": T0 + timedelta(minutes=30),
        "routing": "escalating",
        "about_person_id": None,
        "auto_resolve_at": None,
        "opened_at": T0,
        "last_seen_at": T0,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "resolved_at": None,
        "resolved_by": None,
        "resolution_note": None,
        "purged_at": None,
    }
    assert alert["policy"]["steps"][1] == {
        "targets": ["assistant_principal"],
        "delay_minutes": 30,
        "when": "always",
    }
    assert await engine.timeline() == [
        ("opened", None, None, None, None, None),
        ("escalated", 0, 0, None, None, None),
        ("notified", 0, 0, "sso-rivera", "nats", "queued"),
        ("notified", 0, 0, "sso-rivera", "email", "queued"),
    ]
    emitted = await engine.emitted()
    assert subjects(emitted) == [
        "alert.lhs.opened",
        "alert.lhs.escalated",
        "alert.lhs.notify.sso-rivera",
    ]
    opened, escalated, notify = (p for _, p in emitted)
    assert (opened["alert_id"], opened["policy"], opened["category"]) == (aid, "default", "vaping")
    assert (escalated["step"], escalated["repeat"], escalated["targets"]) == (
        0,
        0,
        [{"kind": "person", "id": "sso-rivera"}],
    )
    assert {k: notify[k] for k in ("alert_id", "person_id", "severity", "zone_id", "count")} == {
        "alert_id": aid,
        "person_id": "sso-rivera",
        "severity": "low",
        "zone_id": "bath-1n-boys",
        "count": 1,
    }
    (mail,) = await engine.rows(store.alert_emails)
    assert (mail["person_id"], mail["address"], mail["status"], mail["due_at"]) == (
        "sso-rivera",
        "d.rivera@lakeside.example.org",
        "pending",
        T0,
    )
    # Nothing the service emits or mails carries the student reference or the note.
    everything = json.dumps([p for _, p in emitted]) + mail["subject"] + mail["body"]
    assert STUDENT not in everything and "Jordan" not in everything


async def test_alert_id_comes_from_the_opening_event(engine: Engine) -> None:
    event = concern()
    await engine.deliver(event)
    from services.alerts.domain import alert_id_for

    assert (await engine.alert())["alert_id"] == str(alert_id_for(event.event_id))


async def test_repeats_fold_into_one_alert_with_a_count_until_it_is_resolved(
    engine: Engine,
) -> None:
    await engine.deliver(missed(), missed())
    engine.clock.advance(timedelta(minutes=5))
    await engine.deliver(missed(), missed("gym"))

    rows = await engine.rows(store.alerts)
    assert sorted((r["dedup_key"], r["count"]) for r in rows) == [
        ("check_missed:cafeteria:2026-11-23", 3),
        ("check_missed:gym:2026-11-23", 1),
    ]
    cafeteria = next(r for r in rows if r["zone_id"] == "cafeteria")
    assert cafeteria["last_seen_at"] == T0 + timedelta(minutes=5)
    assert [t[0] for t in await engine.timeline(cafeteria["alert_id"])] == [
        "opened",
        "escalated",
        "notified",
        "notified",
        "repeated",
        "repeated",
    ]
    # Only one escalation for three reports.
    assert subjects(await engine.emitted()).count("alert.lhs.escalated") == 2  # cafeteria, gym

    await engine.commands.resolve(
        "lhs",
        ResolveRequest(alert_id=cafeteria["alert_id"], by_person_id="ap-chen", note="checked"),
    )
    await engine.deliver(missed())
    rows = await engine.rows(store.alerts, store.alerts.c.zone_id == "cafeteria")
    assert sorted((r["status"], r["count"]) for r in rows) == [("open", 1), ("resolved", 3)]


async def test_a_resolved_concern_resolves_its_alert(engine: Engine) -> None:
    event = concern()
    await engine.deliver(event)
    engine.clock.advance(timedelta(minutes=3))
    resolved = ConcernResolved.new(
        school_id="lhs",
        occurred_at=T0,
        actor=ACTOR,
        concern_id=event.concern_id,
        outcome="resolved_by_sso",
        note=NOTE,
    )
    await engine.deliver(resolved)

    alert = await engine.alert()
    assert (alert["status"], alert["next_step_at"], alert["resolved_by"]) == (
        "resolved",
        None,
        "phone-rivera",
    )
    assert (alert["resolved_at"], alert["resolution_note"]) == (
        T0 + timedelta(minutes=3),
        "concern resolved: resolved_by_sso",
    )
    _, last = (await engine.emitted())[-1]
    # The event says a note exists; the note stays behind `show` (issue 13, item 13).
    assert (last["type"], last["has_outcome_note"], last["outcome_note"]) == (
        "alert.resolved",
        True,
        None,
    )
    engine.clock.advance(timedelta(hours=3))
    assert await engine.tick() == 0


# --- the ticker ---------------------------------------------------------------------------------


async def test_the_ticker_fires_a_step_at_its_deadline_and_not_before(engine: Engine) -> None:
    await engine.deliver(concern())
    engine.clock.advance(timedelta(minutes=29, seconds=59))
    assert await engine.tick() == 0
    engine.clock.advance(timedelta(seconds=1))
    assert await engine.tick() == 1
    assert await engine.tick() == 0  # fired once

    alert = await engine.alert()
    assert (alert["step"], alert["next_step_at"]) == (2, T0 + timedelta(minutes=90))
    escalated = await engine.rows(store.alert_timeline, store.alert_timeline.c.kind == "escalated")
    assert [(r["step"], r["at"], r["detail"]) for r in escalated] == [
        (0, T0, "notified sso-rivera"),
        (1, T0 + timedelta(minutes=30), "notified ap-chen"),
    ]
    assert subjects(await engine.emitted())[-2:] == [
        "alert.lhs.escalated",
        "alert.lhs.notify.ap-chen",
    ]


async def test_a_critical_concern_reaches_principal_and_sso_at_once_then_district(
    engine: Engine,
) -> None:
    await engine.deliver(concern("critical", "weapon"))
    assert subjects(await engine.emitted()) == [
        "alert.lhs.opened",
        "alert.lhs.escalated",
        "alert.lhs.notify.sso-rivera",
        "alert.lhs.notify.principal-okafor",
    ]
    engine.clock.advance(timedelta(minutes=10))
    assert await engine.tick() == 1
    assert subjects(await engine.emitted())[-1] == "alert.lhs.notify.district-lee"


async def test_an_alert_escalates_by_the_policy_it_was_opened_with(engine: Engine) -> None:
    await engine.deliver(concern())
    school = engine.kernel.schools["lhs"]
    edited = [
        p.model_copy(update={"steps": [p.steps[0], p.steps[2]]}) if p.name == "default" else p
        for p in school.escalation_policies
    ]
    engine.kernel.schools["lhs"] = school.model_copy(update={"escalation_policies": edited})  # type: ignore[index]

    engine.clock.advance(timedelta(minutes=30))
    assert await engine.tick() == 1
    assert subjects(await engine.emitted())[-1] == "alert.lhs.notify.ap-chen"  # the old step 1


def updated(cid: uuid.UUID, severity: str | None, zone: str | None = None) -> ConcernUpdated:
    return ConcernUpdated.new(
        school_id="lhs",
        occurred_at=T0,
        actor=ACTOR,
        concern_id=cid,
        severity=severity,
        zone_id=zone,
    )


async def test_a_severity_raised_to_critical_reroutes_to_the_principal_at_once(
    engine: Engine,
) -> None:
    raised = concern("medium", "conflict")
    await engine.deliver(raised)
    engine.clock.advance(timedelta(minutes=4))
    await engine.deliver(updated(raised.concern_id, "critical"))

    alert = await engine.alert()
    assert (alert["severity"], alert["policy_name"], alert["status"]) == (
        "critical",
        "critical",
        "open",
    )
    # Step 0 of the critical policy fired at the update; step 1 (district) is 10 min later.
    assert (alert["step"], alert["repeat"], alert["next_step_at"]) == (
        1,
        0,
        T0 + timedelta(minutes=14),
    )
    assert subjects(await engine.emitted()) == [
        "alert.lhs.opened",
        "alert.lhs.escalated",
        "alert.lhs.notify.sso-rivera",
        "alert.lhs.escalated",
        "alert.lhs.notify.sso-rivera",
        "alert.lhs.notify.principal-okafor",
    ]
    rerouted = [t for t in await engine.rows(store.alert_timeline) if t["kind"] == "rerouted"]
    assert [(t["at"], t["detail"]) for t in rerouted] == [
        (T0 + timedelta(minutes=4), "medium -> critical; policy critical")
    ]
    engine.clock.advance(timedelta(minutes=10))
    assert await engine.tick() == 1
    assert subjects(await engine.emitted())[-1] == "alert.lhs.notify.district-lee"


async def test_a_raised_severity_retriggers_an_acknowledged_alert(engine: Engine) -> None:
    raised = concern("low")
    await engine.deliver(raised)
    aid = (await engine.alert())["alert_id"]
    await engine.commands.ack("lhs", AckRequest(alert_id=aid, by_person_id="sso-rivera"))
    await engine.deliver(updated(raised.concern_id, "critical"))

    alert = await engine.alert()
    assert (alert["status"], alert["acknowledged_by"], alert["policy_name"]) == (
        "open",
        None,
        "critical",
    )
    assert subjects(await engine.emitted())[-1] == "alert.lhs.notify.principal-okafor"


async def test_a_lowered_severity_is_recorded_and_the_escalation_goes_on(engine: Engine) -> None:
    raised = concern("high", "conflict")
    await engine.deliver(raised)
    before = await engine.alert()
    engine.clock.advance(timedelta(minutes=2))
    await engine.deliver(updated(raised.concern_id, "low"), updated(raised.concern_id, None, "gym"))

    after = await engine.alert()
    assert after["severity"] == "low"
    unchanged = ("policy_name", "status", "step", "repeat", "next_step_at")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert [(t["kind"], t["detail"]) for t in await engine.rows(store.alert_timeline)][-1] == (
        "severity",
        "high -> low",
    )
    engine.clock.advance(timedelta(minutes=28))
    assert await engine.tick() == 1  # the default policy's step 1, on its original time
    assert subjects(await engine.emitted())[-1] == "alert.lhs.notify.ap-chen"


VISIT = uuid.UUID("5a0c3c1e-2b7d-4f7e-9d51-3f4a1e2b9c70")
SERVICE_ACTOR = {"kind": "service", "id": "visitors"}


async def test_a_visitor_checking_out_resolves_overdue_and_out_of_bounds_not_screening(
    engine: Engine,
) -> None:
    common = {"school_id": "lhs", "occurred_at": T0, "actor": SERVICE_ACTOR, "visit_id": VISIT}
    await engine.deliver(
        VisitorOverdue.new(**common, badge_number="B-017", expected_until=T0),
        VisitorOutOfBounds.new(
            **common, badge_number="B-017", zone_id="gym", destination_zones=["library"]
        ),
        ScreeningFlagged.new(
            **common,
            watchlist_entry_id="W-3",
            score=0.9,
            decision="yes",
            decided_by="office-garcia",
        ),
    )
    engine.clock.advance(timedelta(minutes=7))
    await engine.deliver(
        VisitorCheckedOut.new(**common, badge_number="B-017", method="front_office")
    )

    rows = await engine.rows(store.alerts)
    assert sorted((r["source"], r["status"], r["resolution_note"]) for r in rows) == [
        ("screening_flagged", "open", None),
        ("visitor_out_of_bounds", "resolved", "visitor checked out (front_office)"),
        ("visitor_overdue", "resolved", "visitor checked out (front_office)"),
    ]
    resolved = [r for r in rows if r["status"] == "resolved"]
    assert {(r["resolved_at"], r["resolved_by"], r["next_step_at"]) for r in resolved} == {
        (T0 + timedelta(minutes=7), "visitors", None)
    }


# --- commands -----------------------------------------------------------------------------------


async def test_ack_stops_escalation_and_the_ack_timeout_retriggers_it(engine: Engine) -> None:
    await engine.deliver(concern())
    aid = (await engine.alert())["alert_id"]
    engine.clock.advance(timedelta(minutes=5))
    summary = await engine.commands.ack("lhs", AckRequest(alert_id=aid, by_person_id="sso-rivera"))
    assert (summary.status.value, summary.acknowledged_by, summary.next_step_at) == (
        "acknowledged",
        "sso-rivera",
        T0 + timedelta(minutes=125),  # default policy: ack timeout 120 min
    )
    _, acked = (await engine.emitted())[-1]
    assert (acked["type"], acked["by_person_id"]) == ("alert.acknowledged", "sso-rivera")

    engine.clock.advance(timedelta(minutes=25))  # when step 1 would have fired
    assert await engine.tick() == 0
    engine.clock.advance(timedelta(minutes=95))  # the ack timeout
    assert await engine.tick() == 1

    kinds = [t[0] for t in await engine.timeline()]
    assert kinds[4:] == ["acknowledged", "retriggered", "escalated", "notified", "notified"]
    alert = await engine.alert()
    assert (alert["status"], alert["step"], alert["next_step_at"]) == (
        "open",
        1,
        T0 + timedelta(minutes=155),
    )


async def test_resolve_requires_a_note_and_a_known_alert(engine: Engine) -> None:
    await engine.deliver(concern())
    aid = (await engine.alert())["alert_id"]
    with pytest.raises(Refused) as blank:
        await engine.commands.resolve(
            "lhs", ResolveRequest(alert_id=aid, by_person_id="ap-chen", note="  ")
        )
    assert blank.value.reason == "resolving an alert needs an outcome note (--note)"
    unknown = uuid.UUID("00000000-0000-4000-8000-000000000000")
    with pytest.raises(Refused) as missing:
        await engine.commands.ack("lhs", AckRequest(alert_id=unknown, by_person_id="ap-chen"))
    assert missing.value.reason == "alert_id: no such alert in this school"
    with pytest.raises(Refused) as other_school:
        await engine.commands.ack("mhs", AckRequest(alert_id=aid, by_person_id="ap-chen"))
    assert other_school.value.reason == "school: not a school of this deployment"

    engine.clock.advance(timedelta(minutes=7))
    done = await engine.commands.resolve(
        "lhs", ResolveRequest(alert_id=aid, by_person_id="ap-chen", note="talked it through")
    )
    assert (done.status.value, done.resolved_at, done.next_step_at) == (
        "resolved",
        T0 + timedelta(minutes=7),
        None,
    )
    with pytest.raises(Refused) as again:
        await engine.commands.ack("lhs", AckRequest(alert_id=aid, by_person_id="ap-chen"))
    assert again.value.reason == f"alert {aid}: alert is already resolved"
    engine.clock.advance(timedelta(hours=5))
    assert await engine.tick() == 0


async def test_show_returns_the_timeline_and_logs_the_read_list_filters_open(
    engine: Engine,
) -> None:
    await engine.deliver(concern(), missed())
    first, second = sorted(await engine.rows(store.alerts), key=lambda r: r["source"])
    engine.clock.advance(timedelta(minutes=1))
    await engine.commands.resolve(
        "lhs", ResolveRequest(alert_id=second["alert_id"], by_person_id="ap-chen", note="fixed")
    )

    detail = await engine.commands.show(
        "lhs", ShowRequest(alert_id=second["alert_id"], by_person_id="principal-okafor")
    )
    assert detail.resolution_note == "fixed"
    assert [(e.kind, e.person_id, e.channel, e.outcome) for e in detail.timeline] == [
        ("opened", None, None, None),
        ("escalated", None, None, None),
        ("notified", "sso-rivera", "nats", "queued"),
        ("notified", "sso-rivera", "email", "queued"),
        ("resolved", "ap-chen", None, None),
    ]
    (log,) = await engine.rows(store.access_log)
    assert (log["alert_id"], log["person_id"], log["query"], log["at"]) == (
        second["alert_id"],
        "principal-okafor",
        "show",
        T0 + timedelta(minutes=1),
    )
    open_ = await engine.commands.list("lhs", ListRequest())
    assert [str(a.alert_id) for a in open_.alerts] == [first["alert_id"]]
    everything = await engine.commands.list("lhs", ListRequest(open_only=False))
    assert len(everything.alerts) == 2


async def test_an_outcome_note_is_erased_after_the_retention_period(engine: Engine) -> None:
    await engine.deliver(concern(), missed())
    kept, erased = sorted(await engine.rows(store.alerts), key=lambda r: r["source"])
    await engine.commands.resolve(
        "lhs", ResolveRequest(alert_id=erased["alert_id"], by_person_id="ap-chen", note="fixed")
    )
    resolved_at = engine.clock.now()
    purge = Ticker(engine.kernel.sessions, engine.clock, [OutcomeNotePurge(engine.kernel.schools)])
    retention = timedelta(days=365)  # the example school's student_records_retention_days

    engine.clock.set(resolved_at + retention - timedelta(seconds=1))
    assert (await purge.tick())["outcome_note_purge"] == 0
    engine.clock.set(resolved_at + retention)
    assert (await purge.tick())["outcome_note_purge"] == 1
    assert (await purge.tick())["outcome_note_purge"] == 0  # once
    engine.clock.set(resolved_at + 5 * retention)
    assert (await purge.tick())["outcome_note_purge"] == 0  # the open alert is kept

    detail = await engine.commands.show(
        "lhs", ShowRequest(alert_id=erased["alert_id"], by_person_id="principal-okafor")
    )
    assert (detail.resolution_note, detail.alert.status.value) == (None, "resolved")
    assert [e.kind for e in detail.timeline][-1] == "resolved"  # the facts stay
    rows = {r["alert_id"]: (r["status"], r["purged_at"]) for r in await engine.rows(store.alerts)}
    assert rows == {
        kept["alert_id"]: ("open", None),
        erased["alert_id"]: ("resolved", resolved_at + retention),
    }
