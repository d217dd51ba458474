"""The patrol service process: which events it consumes and who handles them.

Run with `lookout run patrol` (or `faststream run services.patrol.app:create_app --factory`).
"""

from __future__ import annotations

from pathlib import Path

from faststream import FastStream
from faststream.nats import NatsRouter

from lookout.contracts.alerts import (
    AlertAcknowledged,
    AlertNotification,
    AlertOpened,
    AlertResolved,
)
from lookout.contracts.patrol import (
    CheckMissed,
    CheckpointScanned,
    CheckRecovered,
    CheckWindowClosed,
    ConcernRaised,
    ConcernResolved,
    ConcernUpdated,
    ContactLogged,
    DeviceHeartbeat,
    FollowUpCompleted,
    FollowUpDue,
    FollowUpMissed,
    ObservationLogged,
    PatrolFocusPublished,
    SensorCheckAssigned,
    SensorCheckDone,
    SensorCheckMissed,
    UnannouncedCheckScheduled,
)
from lookout.contracts.sensors import SensorAlertCleared, SensorAlertRaised
from lookout.contracts.subjects import BY_MODEL
from lookout.kernel.clock import Clock
from lookout.kernel.service import ServiceKernel, by_type
from lookout.kernel.settings import Settings
from services.patrol import store
from services.patrol.handlers import PatrolHandlers
from services.patrol.queries import FocusPublisher, register_queries
from services.patrol.replanning import DayReplanner
from services.patrol.sensor_checks import SensorCheckDeadlines, SensorCheckHandlers
from services.patrol.timers import (
    DayPlanner,
    FollowUpDeadlines,
    FollowUpReminders,
    SilenceWatch,
    StudentRecordsPurge,
    WindowCloser,
)

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


def build_app(kernel: ServiceKernel) -> FastStream:
    """The patrol app on a given kernel (tests build the kernel themselves to reach its parts)."""
    sensor_checks = SensorCheckHandlers(kernel.schools, kernel.outbox, kernel.clock)
    handlers = PatrolHandlers(kernel.schools, kernel.outbox, kernel.clock, sensor_checks)
    kernel.use_timers(
        DayPlanner(kernel.schools, kernel.outbox, kernel.settings.patrol_secret()),
        WindowCloser(kernel.outbox),
        SilenceWatch(kernel.schools, kernel.outbox),
        FollowUpReminders(kernel.schools, kernel.outbox),
        FollowUpDeadlines(kernel.outbox),
        FocusPublisher(kernel.schools, kernel.outbox),
        StudentRecordsPurge(kernel.schools),
        SensorCheckDeadlines(kernel.outbox),
    )
    router = NatsRouter()
    register_queries(router, kernel)
    kernel.follow_day_types(
        store.day_types,
        DayReplanner(kernel.outbox, kernel.clock, kernel.settings.patrol_secret()),
    )

    apply_patrol = by_type(
        {
            CheckpointScanned: handlers.checkpoint_scans,
            ObservationLogged: handlers.observations,
            ContactLogged: handlers.contacts,
            DeviceHeartbeat: handlers.heartbeats,
        },
        # Our own outputs share the stream; they are acknowledged and otherwise ignored.
        ignore=[
            CheckMissed,
            CheckWindowClosed,
            CheckRecovered,
            FollowUpDue,
            FollowUpMissed,
            FollowUpCompleted,
            UnannouncedCheckScheduled,
            PatrolFocusPublished,
            SensorCheckAssigned,
            SensorCheckDone,
            SensorCheckMissed,
        ],
        # Scans close windows, heartbeats touch devices, contacts and observations are added:
        # no type's effect depends on another's in the same batch.
        independent=True,
    )
    apply_concerns = by_type(
        {
            ConcernRaised: handlers.concern_events,
            ConcernUpdated: handlers.concern_events,
            ConcernResolved: handlers.concern_events,
        }
    )

    kernel.consume(
        "PATROL",
        apply_patrol,
        description="Checkpoint scans, observations and contacts from the SSO's phone.",
    )
    kernel.consume(
        "CONCERNS",
        apply_concerns,
        description="Concerns raised, updated and resolved, by the SSO, staff or sensors.",
    )
    kernel.consume(
        "SENSORS",
        by_type(
            {
                SensorAlertRaised: sensor_checks.sensor_events,
                SensorAlertCleared: sensor_checks.sensor_events,
            }
        ),
        description="Vape, THC and sound sensor alerts: a zone check for the nearest SSO.",
    )
    outcomes = (AlertOpened, AlertNotification, AlertAcknowledged, AlertResolved)
    kernel.consume(
        "ALERTS",
        by_type(dict.fromkeys(outcomes, handlers.alert_outcomes)),
        subjects=[BY_MODEL[m].wildcard for m in outcomes],
        description="What became of alerts, and who was paged for each (loop closure).",
    )

    return kernel.app(router)
