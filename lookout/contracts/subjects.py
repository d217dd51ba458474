"""The subject catalogue: every event type, its subject template, stream and model.

Subjects carry the tenant so NATS permissions can fence each school and role:
`<domain>.<school_id>.<entity>.<verb>`, shortened to `<domain>.<school_id>.<verb>` where the
entity is the domain itself (`concern.lhs.raised`, `visitor.lhs.checked_in`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from string import Formatter
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from lookout.contracts import alerts, calendar, patrol, reports, sensors, visitors
from lookout.contracts.envelope import Event


@dataclass(frozen=True)
class Subject:
    """One entry of the catalogue."""

    model: type[Event]
    # `{school}` is the school id; any other `{field}` is that field of the event, for
    # subjects addressed to one person (`patrol.{school}.sso.{officer_id}.follow_up_due`).
    template: str
    stream: str
    description: str

    @property
    def type(self) -> str:
        return self.model.event_type()

    @property
    def placeholders(self) -> list[str]:
        return [name for _, name, _, _ in Formatter().parse(self.template) if name]

    @property
    def wildcard(self) -> str:
        """The subject for every school, as a consumer filter (`patrol.*.checkpoint.scanned`)."""
        return self.template.format(**dict.fromkeys(self.placeholders, "*"))

    def for_school(self, school_id: str, **fields: str) -> str:
        return self.template.format(school=school_id, **fields)


# Streams and the subjects they hold. DLQ keeps dead letters for operators to inspect/replay.
STREAMS: dict[str, list[str]] = {
    "CALENDAR": ["school.>"],
    "PATROL": ["patrol.>"],
    "CONCERNS": ["concern.>"],
    "VISITORS": ["visitor.>"],
    "ALERTS": ["alert.>"],
    "REPORTS": ["report.>"],
    "SENSORS": ["sensor.>"],
    "DLQ": ["dlq.>"],
}

CATALOGUE: tuple[Subject, ...] = (
    Subject(
        patrol.CheckpointScanned,
        "patrol.{school}.checkpoint.scanned",
        "PATROL",
        "The SSO scanned a checkpoint tag on patrol.",
    ),
    Subject(
        patrol.ObservationLogged,
        "patrol.{school}.observation.logged",
        "PATROL",
        "The SSO logged an observation about a place.",
    ),
    Subject(
        patrol.ContactLogged,
        "patrol.{school}.contact.logged",
        "PATROL",
        "A positive contact, check-in, de-escalation or referral.",
    ),
    Subject(
        patrol.CheckMissed,
        "patrol.{school}.check.missed",
        "PATROL",
        "A patrol window closed with its zone unchecked.",
    ),
    Subject(
        patrol.FollowUpMissed,
        "patrol.{school}.follow_up.missed",
        "PATROL",
        "A welfare re-check after a concern was not done in time.",
    ),
    Subject(
        patrol.CheckWindowClosed,
        "patrol.{school}.check.window_closed",
        "PATROL",
        "A check window closed: checked, late or missed.",
    ),
    Subject(
        patrol.CheckRecovered,
        "patrol.{school}.check.recovered",
        "PATROL",
        "A window reported missed was checked after all (a late-delivered scan).",
    ),
    Subject(
        patrol.FollowUpCompleted,
        "patrol.{school}.follow_up.completed",
        "PATROL",
        "A welfare re-check was done (on time, or after it was reported missed).",
    ),
    Subject(
        patrol.DeviceHeartbeat,
        "patrol.{school}.device.heartbeat",
        "PATROL",
        "The SSO's phone is alive.",
    ),
    Subject(
        patrol.FollowUpDue,
        "patrol.{school}.sso.{officer_id}.follow_up_due",
        "PATROL",
        "Reminder to one SSO: a welfare re-check is due.",
    ),
    Subject(
        patrol.SensorCheckAssigned,
        "patrol.{school}.sso.{officer_id}.sensor_check",
        "PATROL",
        "A sensor alert's zone to check, sent only to the SSO asked to check it.",
    ),
    Subject(
        patrol.SensorCheckDone,
        "patrol.{school}.sensor_check.done",
        "PATROL",
        "The first scan of a zone after its sensor alert, and how long it took.",
    ),
    Subject(
        patrol.SensorCheckMissed,
        "patrol.{school}.sensor_check.missed",
        "PATROL",
        "Nobody checked a sensor alert's zone in time.",
    ),
    Subject(
        sensors.SensorAlertRaised,
        "sensor.{school}.alert.raised",
        "SENSORS",
        "A vape, THC, sound or tamper sensor went into alert.",
    ),
    Subject(
        sensors.SensorAlertCleared,
        "sensor.{school}.alert.cleared",
        "SENSORS",
        "A sensor's reading went back below its threshold.",
    ),
    Subject(
        patrol.UnannouncedCheckScheduled,
        "patrol.{school}.sso.{officer_id}.unannounced_check",
        "PATROL",
        "An unannounced check time, sent only to the SSO.",
    ),
    Subject(
        patrol.PatrolFocusPublished,
        "patrol.{school}.focus.published",
        "PATROL",
        "The recommended patrol focus for next week.",
    ),
    Subject(
        patrol.ConcernRaised,
        "concern.{school}.raised",
        "CONCERNS",
        "A concern about students was raised.",
    ),
    Subject(
        patrol.ConcernUpdated,
        "concern.{school}.updated",
        "CONCERNS",
        "An open concern was updated.",
    ),
    Subject(
        patrol.ConcernResolved,
        "concern.{school}.resolved",
        "CONCERNS",
        "A concern was resolved with an outcome.",
    ),
    Subject(
        visitors.VisitorCheckedIn,
        "visitor.{school}.checked_in",
        "VISITORS",
        "A visitor signed in at the front office.",
    ),
    Subject(
        visitors.VisitorCheckedOut,
        "visitor.{school}.checked_out",
        "VISITORS",
        "A visitor signed out (or was checked out at end of day).",
    ),
    Subject(
        visitors.ScreeningFlagged,
        "visitor.{school}.screening_flagged",
        "VISITORS",
        "Staff confirmed or could not rule out a watchlist match.",
    ),
    Subject(
        visitors.VisitorSighted,
        "visitor.{school}.sighted",
        "VISITORS",
        "The SSO saw a visitor's badge in a zone.",
    ),
    Subject(
        visitors.VisitorOverdue,
        "visitor.{school}.overdue",
        "VISITORS",
        "A visit ran past its expected duration plus grace.",
    ),
    Subject(
        visitors.VisitorOutOfBounds,
        "visitor.{school}.out_of_bounds",
        "VISITORS",
        "A visitor was seen outside their destination zones.",
    ),
    Subject(
        visitors.VisitorUnaccounted,
        "visitor.{school}.unaccounted",
        "VISITORS",
        "The end-of-day checkout closed a visit nobody saw leave.",
    ),
    Subject(
        visitors.DrillStarted,
        "visitor.{school}.drill_started",
        "VISITORS",
        "Staff started an evacuation drill.",
    ),
    Subject(
        visitors.VisitorAccountedFor,
        "visitor.{school}.accounted_for",
        "VISITORS",
        "A visitor on site at a drill's start was accounted for.",
    ),
    Subject(
        visitors.DrillEnded,
        "visitor.{school}.drill_ended",
        "VISITORS",
        "An evacuation drill ended (everyone accounted for, or ended by staff).",
    ),
    Subject(alerts.AlertOpened, "alert.{school}.opened", "ALERTS", "An alert was opened."),
    Subject(
        alerts.AlertEscalated,
        "alert.{school}.escalated",
        "ALERTS",
        "An alert reached an escalation step.",
    ),
    Subject(
        alerts.AlertNotified,
        "alert.{school}.notified",
        "ALERTS",
        "One notification attempt and its outcome.",
    ),
    Subject(
        alerts.AlertAcknowledged,
        "alert.{school}.acknowledged",
        "ALERTS",
        "Someone acknowledged an alert.",
    ),
    Subject(
        alerts.AlertResolved,
        "alert.{school}.resolved",
        "ALERTS",
        "An alert was resolved with an outcome note.",
    ),
    Subject(
        alerts.HeartbeatMissed,
        "alert.{school}.heartbeat.missed",
        "ALERTS",
        "The SSO's phone went silent during school hours.",
    ),
    Subject(
        alerts.HeartbeatResumed,
        "alert.{school}.heartbeat.resumed",
        "ALERTS",
        "A phone whose silence was reported is sending heartbeats again.",
    ),
    Subject(
        alerts.AlertNotification,
        "alert.{school}.notify.{person_id}",
        "ALERTS",
        "An escalation step reached one person (what their client subscribes to).",
    ),
    Subject(
        reports.WeeklySummarySent,
        "report.{school}.weekly_summary.sent",
        "REPORTS",
        "A weekly summary email was sent.",
    ),
    Subject(
        calendar.DayTypeConfirmed,
        "school.{school}.day_type.confirmed",
        "CALENDAR",
        "An admin confirmed a date's day type (no school, early release, late start).",
    ),
    Subject(
        calendar.DayTypeWithdrawn,
        "school.{school}.day_type.withdrawn",
        "CALENDAR",
        "An admin withdrew a date's day type: it keeps the school file's own bell.",
    ),
)

BY_TYPE: dict[str, Subject] = {s.type: s for s in CATALOGUE}
BY_MODEL: dict[type[Event], Subject] = {s.model: s for s in CATALOGUE}


class InvalidEvent(ValueError):
    """A message that can never be processed: the reason goes to the dead-letter subject."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def subject_of(event: Event) -> str:
    spec = BY_MODEL[type(event)]
    fields = {name: str(getattr(event, name)) for name in spec.placeholders if name != "school"}
    return spec.for_school(event.school_id, **fields)


_PATTERNS = [(spec, spec.wildcard.split(".")) for spec in CATALOGUE]


@lru_cache(maxsize=4096)
def lookup(subject: str) -> tuple[Subject, str]:
    """The catalogue entry for a concrete subject, and the school id it carries."""
    tokens = subject.split(".")
    for spec, pattern in _PATTERNS:
        if len(pattern) == len(tokens) and all(
            p in ("*", t) for p, t in zip(pattern, tokens, strict=True)
        ):
            return spec, tokens[pattern.index("*")]
    raise InvalidEvent("subject: not a subject of the catalogue")


def parse_event(subject: str, data: bytes) -> Event:
    """Decode and validate a message; raise InvalidEvent with a reason that names the problem.

    The reason names fields and error kinds only, never the offending values, because those may
    be student notes or names.

    Whatever decoding or validation raises is a fault of the message, never of the consumer, so
    it is InvalidEvent too (dead-lettered on the first delivery, never retried): deep nesting
    (RecursionError), an integer literal past Python's digit limit (ValueError), an overflow or
    a type error in a validator. Pydantic wraps only ValueError and AssertionError itself.
    """
    spec, school_id = lookup(subject)
    try:
        # pydantic's Rust decoder: a flood of deeply nested JSON fails at its depth limit in a
        # few µs a message (json.loads walks to Python's recursion limit: ~20 times slower), and a
        # valid event decodes ~3 times faster (docs/benchmarks.md, poison flood).
        payload = from_json(data)
    except Exception as exc:  # ValueError (invalid, too deep, number out of range, bad UTF-8)
        raise InvalidEvent(f"undecodable JSON: {_decoding_fault(exc)}") from None
    if not isinstance(payload, dict):
        raise InvalidEvent("payload is not a JSON object")
    try:
        event = spec.model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEvent(
            f"schema violation for {spec.type}: {describe(exc, spec.model)}"
        ) from None
    except Exception as exc:  # OverflowError, RecursionError, TypeError from a validator
        raise InvalidEvent(f"invalid {spec.type}: {exc.__class__.__name__}") from None
    if event.school_id != school_id:
        raise InvalidEvent("school_id: does not match the subject's school")
    return event


# The decoder's messages are fixed texts plus a position; the reason keeps only the kind of
# fault, in words, so nothing of the message can leak through it.
_DECODING_FAULTS = (
    ("recursion limit exceeded", "nested too deep"),
    ("number out of range", "number out of range"),
    ("invalid unicode code point", "not UTF-8 text"),
)


def _decoding_fault(exc: Exception) -> str:
    text = str(exc)
    return next((words for start, words in _DECODING_FAULTS if text.startswith(start)), "not JSON")


def describe(exc: ValidationError, model: type[BaseModel] | None = None, limit: int = 5) -> str:
    """Name each failing field and what is wrong, without echoing input values: a key the
    sender made up is "an unknown field", never its name (it may be a student's), and a
    parsing error stops before the fragment of input pydantic quotes. `model` (what was
    validated) says which names are its fields; without it, those of every Lookout model."""
    known = field_names(model) if model is not None else _lookout_field_names()
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:limit]:
        loc = [str(p) if isinstance(p, int) or p in known else "?" for p in err["loc"]]
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            loc, msg = loc[:-1], "unknown field"
        elif str(err["type"]).endswith("_parsing") or "`" in msg:
            msg = msg.split(",")[0]
        parts.append(f"{'.'.join(loc) or '<root>'}: {msg}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


@lru_cache(maxsize=256)
def field_names(model: type[BaseModel]) -> frozenset[str]:
    """The field names of `model` and of every model inside its fields."""
    names: set[str] = set()
    todo: list[Any] = [model]
    seen: set[Any] = set()
    while todo:
        item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        if isinstance(item, type) and issubclass(item, BaseModel):
            names.update(item.model_fields)
            todo.extend(f.annotation for f in item.model_fields.values())
        else:
            todo.extend(get_args(item))
    return frozenset(names)


def _lookout_field_names() -> frozenset[str]:
    """Every field name a Lookout model declares (looked up at each call: only on an error)."""
    names: set[str] = set()
    todo: list[type[BaseModel]] = [BaseModel]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("lookout"):
            names.update(cls.model_fields)
    return frozenset(names)
