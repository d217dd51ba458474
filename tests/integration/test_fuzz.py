"""Fuzz: hostile bytes and JSON on every event subject and every request subject (issue 13).

All four services run in-process on a real nats-server. Hypothesis (derandomized, a fixed
number of examples, so CI sees the same inputs every run) draws, for every subject of the
catalogue (lookout/contracts/subjects.py) and every request of lookout/contracts/requests.py:
random bytes, random JSON (objects with made-up keys, arrays, strings, numbers), arrays and
objects nested thousands deep, integers of thousands of digits, text with control characters,
and near-valid messages (a valid event or request with one field dropped, added or spoiled).
Many carry a sentinel ("Zed-Quill-4417", "Jane Doe") that stands for a student's or visitor's
name. Every message is invalid by construction; the test then holds that

- every durable consumer of every stream drains (nothing pending, nothing unacknowledged), each
  message judged on its first delivery (no redelivery);
- each consumer that reads a subject dead-letters every message of it exactly once, and every
  consumer of a message gives the same reason (the one message a handler refuses on its own
  state, a sighting of a badge nobody wears, is refused by visitors and ignored by reports);
- no reason is a crash (`processing failed`, `undecodable message`);
- every request gets a JSON error reply, never a timeout and never an internal error;
- no dead-letter reason, reply or log line quotes the sentinel.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import types
import typing
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from nats.js import JetStreamContext
from pydantic import AwareDatetime, BaseModel

from lookout.contracts.envelope import Event
from lookout.contracts.patrol import CheckpointScanned
from lookout.contracts.requests import REQUESTS, RequestSpec
from lookout.contracts.subjects import CATALOGUE, Subject
from lookout.contracts.visitors import VisitorSighted
from lookout.kernel.admission import refuse_event
from lookout.kernel.clock import ManualClock
from lookout.kernel.messaging import DLQ_REASON, DLQ_SEQUENCE, DLQ_STREAM, DLQ_SUBJECT
from lookout.kernel.queries import acting_field
from lookout.kernel.settings import Settings
from lookout.school.config import SchoolConfig
from services.alerts import app as alerts_app
from services.patrol import app as patrol_app
from services.reports import app as reports_app
from services.visitors import app as visitors_app
from tests.integration.conftest import consumer_drained, running, stream_messages, wait_until

SCHOOL = "lhs"
T0 = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # a Saturday: no check windows, no timers
NOW = T0 + timedelta(minutes=1)  # the suite's clock: what every consumer judges against
EXAMPLES = 36  # hypothesis examples: each draws one message per event subject and request
EACH_FAULT = 3  # and these: each draws one near-valid message per subject and kind of fault
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}

# Stand-ins for a student's or a visitor's name. None may come back in a reason, reply or log.
SENTINELS = ("Zed-Quill-4417", "Jane Doe", "Jane_Doe")
SCHOOL_SENTINEL = "zed-quill-4417"  # a well-formed school id, for the subject/school mismatch
# Searched case-insensitively; fragments too, in case a reason truncates what it quotes.
LEAKS = ("quill", "jane")

# Subject placeholders other than the school: real people of lookout/school/examples/lhs.yaml.
PLACEHOLDERS = {"officer_id": "sso-rivera", "person_id": "principal-okafor"}
PEOPLE = ("principal-okafor", "office-garcia", "sso-rivera")

# Who reads what (each service's app.py): durable -> (stream, the subjects it is filtered to;
# None for the whole stream). REPORTS has no consumer: its messages simply stay in the stream.
DURABLES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "patrol-patrol": ("PATROL", None),
    "patrol-concerns": ("CONCERNS", None),
    "patrol-alerts": ("ALERTS", ("opened", "notify.{person_id}", "acknowledged", "resolved")),
    "patrol-sensors": ("SENSORS", None),
    "alerts-concerns": ("CONCERNS", None),
    "alerts-patrol": (
        "PATROL",
        (
            "check.missed",
            "check.recovered",
            "follow_up.missed",
            "follow_up.completed",
            "sensor_check.missed",
            "sensor_check.done",
        ),
    ),
    "alerts-alerts": ("ALERTS", ("heartbeat.missed", "heartbeat.resumed")),
    "alerts-visitors": (
        "VISITORS",
        ("screening_flagged", "overdue", "out_of_bounds", "checked_out", "unaccounted"),
    ),
    "reports-patrol": ("PATROL", None),
    "reports-concerns": ("CONCERNS", None),
    "reports-visitors": ("VISITORS", None),
    "reports-alerts": ("ALERTS", None),
    "visitors-sightings": ("VISITORS", ("sighted",)),
    # Confirmed day types: every service that plans by the bell keeps them.
    "patrol-calendar": ("CALENDAR", None),
    "alerts-calendar": ("CALENDAR", None),
    "reports-calendar": ("CALENDAR", None),
    "visitors-calendar": ("CALENDAR", None),
}


def readers(spec: Subject) -> list[str]:
    """The durables that read a catalogue subject (by the table above)."""
    rest = spec.template.split(".", 2)[2]  # `patrol.{school}.check.missed` -> `check.missed`
    return [
        durable
        for durable, (stream, only) in DURABLES.items()
        if stream == spec.stream and (only is None or rest in only)
    ]


def service_of(durable: str) -> str:
    return durable.split("-", 1)[0]


def event_subject(spec: Subject) -> str:
    return spec.for_school(
        SCHOOL, **{p: PLACEHOLDERS[p] for p in spec.placeholders if p != "school"}
    )


# --- valid starting points -----------------------------------------------------------------

NAMED: dict[str, Any] = {
    "zone_id": "cafeteria",
    "checkpoint_tag": "T-CAF-N",
    "last_seen_zone": "cafeteria",
    "destination_zones": ["main-office"],
    "officer_id": "sso-rivera",
    "device_id": "phone-rivera",
    "person_id": "principal-okafor",
    "by_person_id": "principal-okafor",
    "decided_by": "office-garcia",
    "host_id": "principal-okafor",
    "badge_number": "B-101",
    "watchlist_entry_id": "wl-1",
    "student_refs": ["S-104233"],
    "week": "2026-W48",
    "dedup_key": "concern:1",
    "purpose": "a meeting",
    "category": "conflict",
    "policy": "default",
    "period": "p1",
    "reason": "most concerns",
    "first_name": "Ada",
    "last_name": "Byron",
    "id_last4": "1234",
    "expected_minutes": 30,
    "day": "2026-11-27",
    "id": "principal",
    # A browser's Web Push subscription (RFC 8291 keys) and a text reply code.
    "endpoint": "https://push.example.org/send/1",
    "p256dh": "BI5TO2-gv3tGJbswZnwB-2B--fi4qA_vWzAGKHAxh7Kjc"
    "-sdveAzGDZtBp-DpvWQAFPHNjPLBBshxV4ahsH0ALQ",
    "auth": "AAECAwQFBgcICQoLDA0ODw",
    "code": "1a",
}
# Free text: a short hostile string is valid there, so only an over-long one spoils it.
FREE_TEXT = frozenset({"note", "purpose", "dedup_key", "outcome_note", "reason"})
# Fields lookout.kernel.admission judges against the school (a well-formed token that names nothing
# of the school is refused by every consumer alike).
REFERENCES = frozenset(
    {"zone_id", "last_seen_zone", "destination_zones", "officer_id", "student_refs"}
)


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def _value(name: str, annotation: Any, metadata: list[Any], n: int) -> Any:
    kind = _unwrap(annotation)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind)).value
    if name in NAMED:
        return NAMED[name]
    if kind is uuid.UUID:
        return str(uuid.UUID(int=n + 1))
    if kind in (datetime, AwareDatetime):
        return T0.isoformat()
    if kind is date:
        return "2026-11-27"
    if kind is bool:
        return False
    if kind is int:
        return max([1, *(getattr(m, "ge", 0) or 0 for m in metadata)])
    if kind is float:
        return 0.5
    if typing.get_origin(kind) is list:
        (inner,) = typing.get_args(kind)
        inner = _unwrap(inner)
        return [_model_payload(inner)] if isinstance(inner, type) else ["x1"]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return _model_payload(kind)
    return "x1"


def _model_payload(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        name: _value(name, f.annotation, f.metadata, i)
        for i, (name, f) in enumerate(model.model_fields.items())
        if f.is_required() and name not in skip
    }


def valid_event(spec: Subject) -> dict[str, Any]:
    """A valid event of this subject's type: schema, school and time all pass."""
    base = {
        "event_id": str(uuid.UUID(int=99)),
        "type": spec.type,
        "school_id": SCHOOL,
        "occurred_at": T0.isoformat(),
        "actor": ACTOR,
    }
    payload = _model_payload(spec.model, frozenset(base)) | base
    if spec.model is CheckpointScanned:
        payload.update(zone_id="cafeteria", checkpoint_tag="T-CAF-N")
    return payload


def valid_request(spec: RequestSpec) -> dict[str, Any]:
    """A valid request body (without its acting-person field: the subject says who)."""
    field = acting_field(spec.model)
    body = _model_payload(spec.model, frozenset({field} if field else ()))
    if spec.name == "sign_out":  # exactly one of visit_id or badge_number
        body["badge_number"] = NAMED["badge_number"]
    return body


# --- hostile values ------------------------------------------------------------------------

control = st.sampled_from(["\x00", "\x07", "\x1b[31m", "\u202e", "\u200b", "\x7f", "\ufeff"])
anything = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
sentinel = st.sampled_from(SENTINELS)


@st.composite
def tainted_text(draw: st.DrawFn) -> str:
    """A short string holding a sentinel, a space and a control character: no token, id,
    date, enum or printable name accepts it."""
    parts = [draw(anything), draw(sentinel), draw(control), " ", draw(anything)]
    return "".join(draw(st.permutations(parts)))


oversized = st.builds(lambda s, n: (s + " ") * n, sentinel, st.integers(250, 400))
huge_digits = st.integers(4400, 6000)  # past Python's int_max_str_digits (4300)
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), anything, tainted_text()
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(anything, tainted_text()), inner, max_size=4)
    ),
    max_leaves=12,
)


def _nested(depth: int, leaf: str) -> Any:
    value: Any = leaf
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def hostile_value(draw: st.DrawFn, free_text: bool) -> Any:
    """A value that no field takes (a free-text field takes a short string, so not that)."""
    choices = ["oversized", "nested", "deep", "object", "big"]
    if not free_text:
        choices.append("tainted")
    how = draw(st.sampled_from(choices))
    if how == "oversized":
        return draw(oversized)
    if how == "nested":
        return _nested(draw(st.integers(2, 6)), draw(tainted_text()))
    if how == "deep":
        return f"DEEP:{draw(st.sampled_from([1500, 3000, 10000]))}"
    if how == "object":
        return {draw(tainted_text()): draw(json_value)}
    if how == "big":
        return f"BIG:{draw(huge_digits)}"
    return draw(tainted_text())


def encode(value: Any) -> bytes:
    """JSON bytes. Markers stand for what json.dumps cannot write: `BIG:<n>` an integer literal
    of n digits, `DEEP:<n>` an array nested n deep around a sentinel. Text goes as UTF-8, not
    escaped (json.dumps still escapes the C0 controls, as JSON requires)."""
    text = json.dumps(value, ensure_ascii=False)
    for marker in ("BIG:", "DEEP:"):
        while f'"{marker}' in text:
            start = text.index(f'"{marker}')
            end = text.index('"', start + 1)
            n = int(text[start + 1 + len(marker) : end])
            literal = "7" * n if marker == "BIG:" else "[" * n + '"Zed-Quill-4417"' + "]" * n
            text = text[:start] + literal + text[end + 1 :]
    return text.encode()


# --- messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    subject: str
    data: bytes
    how: str


def is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except Exception:
        return False


random_bytes = st.one_of(
    st.binary(min_size=1, max_size=200),
    st.builds(
        lambda a, s, b: a + s.encode() + b, st.binary(max_size=40), sentinel, st.binary(max_size=40)
    ),
).filter(lambda b: b.strip() and not is_json_object(b))
random_json = st.one_of(
    # Not an object at all.
    json_value.filter(lambda v: not isinstance(v, dict)).map(encode),
    # An object with at least one key no contract declares, holding a sentinel.
    st.builds(
        lambda k, v, rest: encode(rest | {k: v}),
        tainted_text(),
        json_value,
        st.dictionaries(anything, json_value, max_size=4),
    ),
)
deeply_nested = st.one_of(
    st.integers(1200, 6000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(400, 2000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
)
huge_integer = huge_digits.map(lambda n: b"9" * n)


def event_faults(spec: Subject) -> list[str]:
    """The kinds of fault near_valid_event makes on this subject's events."""
    faults = ["drop", "extra", "actor", "spoil", "school", "time", "type"]
    if REFERENCES & set(spec.model.model_fields):
        faults.append("reference")
    if spec.model is VisitorSighted:
        faults.append("badge")
    return faults


DATES = ("day", "date_from", "date_to", "as_of", "week")


def request_faults(spec: RequestSpec) -> list[str]:
    """The kinds of fault near_valid_request makes on this request."""
    acting = acting_field(spec.model)
    fields = [n for n in spec.model.model_fields if n != acting]
    faults = ["extra"] + (["spoil"] if fields else [])
    if any(spec.model.model_fields[n].is_required() for n in valid_request(spec)):
        faults.append("drop")
    faults += ["acting"] if acting else []
    faults += ["edge"] if any(n in DATES for n in fields) else []
    faults += ["born"] if "date_of_birth" in fields else []
    faults += ["name"] if "first_name" in fields else []
    return faults


@st.composite
def near_valid_event(draw: st.DrawFn, spec: Subject, how: str | None = None) -> tuple[bytes, str]:
    """A valid event with one fault; `how` says which (`badge` is the one a handler judges);
    hypothesis picks it unless it is given."""
    payload = valid_event(spec) | {"event_id": str(draw(st.uuids()))}
    fields = {**spec.model.model_fields}
    refs = sorted(REFERENCES & set(fields))
    how = how or draw(st.sampled_from(event_faults(spec)))
    if how == "drop":
        del payload[draw(st.sampled_from(sorted(payload)))]
    elif how == "extra":
        payload[draw(tainted_text())] = draw(json_value)
    elif how == "actor":
        payload["actor"] = ACTOR | {draw(tainted_text()): draw(json_value)}
    elif how == "spoil":
        name = draw(st.sampled_from(sorted(fields)))
        payload[name] = draw(hostile_value(name in FREE_TEXT))
    elif how == "school":
        payload["school_id"] = SCHOOL_SENTINEL
    elif how == "time":
        payload["occurred_at"] = draw(
            st.sampled_from(
                [
                    "9999-12-31T23:59:59+00:00",
                    "0001-01-01T00:00:00+00:00",
                    "1900-01-01T00:00:00Z",
                    "2026-11-28T16:00:00",  # no time zone
                    (NOW + timedelta(hours=1)).isoformat(),
                    (NOW - timedelta(days=31)).isoformat(),
                ]
            )
        )
    elif how == "type":
        payload["type"] = draw(tainted_text())
    elif how == "reference":
        name = draw(st.sampled_from(refs))
        token = draw(st.sampled_from(["Zed-Quill-4417", "Jane_Doe-4417"]))
        payload[name] = [token] if name in ("destination_zones", "student_refs") else token
    else:  # a well-formed badge that no visit wears: the visitors service refuses it
        payload["badge_number"] = draw(st.sampled_from(["Zed-Quill-4417", "Jane_Doe"]))
    return encode(payload), how


@st.composite
def event_message(draw: st.DrawFn, spec: Subject) -> tuple[bytes, str]:
    how = draw(st.sampled_from(["bytes", "json", "deep", "big"] + ["near"] * 5))
    if how == "near":
        return draw(near_valid_event(spec))
    garbage = {"bytes": random_bytes, "json": random_json, "deep": deeply_nested}
    return draw(garbage.get(how, huge_integer)), how


DATE_EDGES = ["0001-01-01", "9999-12-31", "1900-01-01", "1999-12-31", "2101-01-01"]
WEEK_EDGES = ["0001-W01", "9999-W52", "1999-W10", "2101-W01"]


@st.composite
def near_valid_request(
    draw: st.DrawFn, spec: RequestSpec, how: str | None = None
) -> tuple[bytes, str]:
    """A valid request with one fault (`how` as for near_valid_event)."""
    body = valid_request(spec)
    acting = acting_field(spec.model)
    fields = sorted(n for n in spec.model.model_fields if n != acting)
    required = sorted(n for n in body if spec.model.model_fields[n].is_required())
    edges = [n for n in fields if n in DATES]
    how = how or draw(st.sampled_from(request_faults(spec)))
    if how == "extra":
        body[draw(tainted_text())] = draw(json_value)
    elif how == "spoil":
        name = draw(st.sampled_from(fields))
        body[name] = draw(hostile_value(name in FREE_TEXT))
    elif how == "drop":
        del body[draw(st.sampled_from(required))]
    elif how == "acting":  # who acts is the subject's last token, never the body's say
        assert acting is not None
        body[acting] = draw(st.sampled_from([*PEOPLE, "Jane_Doe"]))
    elif how == "edge":
        name = draw(st.sampled_from(edges))
        body[name] = draw(st.sampled_from(WEEK_EDGES if name == "week" else DATE_EDGES))
    elif how == "born":
        body["date_of_birth"] = draw(st.sampled_from(["1900-01-01", "0001-01-01", "2027-06-01"]))
    else:  # a name with a control character in it
        name = draw(st.sampled_from(["first_name", "last_name"]))
        body[name] = draw(sentinel) + draw(control) + "x"
    return encode(body), how


@st.composite
def request_message(draw: st.DrawFn, spec: RequestSpec) -> tuple[bytes, str]:
    how = draw(st.sampled_from(["bytes", "json", "deep", "big"] + ["near"] * 5))
    if how == "near":
        return draw(near_valid_request(spec))
    garbage = {"bytes": random_bytes, "json": random_json, "deep": deeply_nested}
    return draw(garbage.get(how, huge_integer)), how


def fixed(examples: int) -> Any:
    """Hypothesis settings for collecting messages: a fixed number of examples, derandomized so
    every run (and CI) sends the same ones, and no shrinking (nothing fails in here)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def draw_corpus() -> tuple[list[Sent], list[Sent]]:
    """Every event subject and every request subject: EXAMPLES messages of any kind each, and
    EACH_FAULT near-valid ones per kind of fault (duplicates dropped: copies of one message in
    a batch rightly make one dead letter). An example's messages count only once it has drawn
    them all (hypothesis abandons an example that draws too much, midway)."""
    events: dict[tuple[str, bytes], Sent] = {}
    requests: dict[tuple[str, bytes], Sent] = {}

    def keep(drawn: list[Sent], into: dict[tuple[str, bytes], Sent]) -> None:
        for message in drawn:
            into.setdefault((message.subject, message.data), message)

    @fixed(EXAMPLES)
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        drawn = []
        for spec in CATALOGUE:
            drawn.append(Sent(event_subject(spec), *data.draw(event_message(spec))))
        keep(drawn, events)
        drawn = []
        for i, spec in enumerate(REQUESTS):
            subject = spec.subject(SCHOOL, PEOPLE[(i + len(requests)) % len(PEOPLE)])
            drawn.append(Sent(subject, *data.draw(request_message(spec))))
        keep(drawn, requests)

    def each_event(fault: str) -> Any:
        @fixed(EACH_FAULT)
        @given(st.data())
        def collect_fault(data: st.DataObject) -> None:
            drawn = [
                Sent(event_subject(spec), *data.draw(near_valid_event(spec, fault)))
                for spec in CATALOGUE
                if fault in event_faults(spec)
            ]
            keep(drawn, events)

        return collect_fault

    def each_request(fault: str) -> Any:
        @fixed(EACH_FAULT)
        @given(st.data())
        def collect_fault(data: st.DataObject) -> None:
            drawn = [
                Sent(
                    spec.subject(SCHOOL, PEOPLE[(i + len(requests)) % len(PEOPLE)]),
                    *data.draw(near_valid_request(spec, fault)),
                )
                for i, spec in enumerate(REQUESTS)
                if fault in request_faults(spec)
            ]
            keep(drawn, requests)

        return collect_fault

    collect()
    # Every kind of fault on every subject, however hypothesis happened to draw above.
    for fault in sorted({f for spec in CATALOGUE for f in event_faults(spec)}):
        each_event(fault)()
    for fault in sorted({f for spec in REQUESTS for f in request_faults(spec)}):
        each_request(fault)()
    return list(events.values()), list(requests.values())


# --- checks --------------------------------------------------------------------------------


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [word for word in LEAKS if word in lowered]


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_the_starting_points_are_valid_events_and_requests(school: SchoolConfig) -> None:
    """Near-valid means one fault away from valid: each starting point passes on its own."""
    for spec in CATALOGUE:
        event = spec.model.model_validate(valid_event(spec))
        assert isinstance(event, Event)
        assert refuse_event(school, event, NOW) is None, spec.type
    for request in REQUESTS:
        body = valid_request(request)
        field = acting_field(request.model)
        request.model.model_validate_json(
            json.dumps(body | ({field: "principal-okafor"} if field else {}))
        )


async def request_all(nc: nats.NATS, sent: list[Sent]) -> list[tuple[Sent, bytes | None]]:
    gate = asyncio.Semaphore(16)

    async def one(message: Sent) -> tuple[Sent, bytes | None]:
        async with gate:
            try:
                reply = await nc.request(message.subject, message.data, timeout=10)
            except (TimeoutError, nats.errors.Error):  # a timeout, no responders
                return message, None
            return message, reply.data

    return await asyncio.gather(*(one(m) for m in sent))


async def read_dead_letters(js: JetStreamContext) -> list[Any]:
    """Every message of the DLQ stream (read after every consumer drained: each dead letter
    was stored before its original was terminated)."""
    total = await stream_messages(js, "DLQ")
    sub = await js.pull_subscribe("dlq.>", stream="DLQ")
    found: list[Any] = []
    while len(found) < total:
        try:
            batch = await sub.fetch(min(500, total - len(found)), timeout=5)
        except TimeoutError:  # nats.errors.TimeoutError is one too
            break
        for msg in batch:  # acknowledged, else the server stops at max_ack_pending
            await msg.ack()
            found.append(msg)
    await sub.unsubscribe()
    return found


@pytest.mark.nats
async def test_hostile_input_on_every_subject_is_judged_once_and_never_quoted(
    nats_server: Any, js: JetStreamContext, tmp_path: Path
) -> None:
    events, requests = draw_corpus()
    # Every subject, each with many distinct messages (hypothesis repeats a few simple ones).
    per_event = Counter(m.subject for m in events)
    assert set(per_event) == {event_subject(s) for s in CATALOGUE}
    assert min(per_event.values()) >= EXAMPLES // 2, per_event
    per_request = Counter(m.subject.rsplit(".", 1)[0] for m in requests)
    assert set(per_request) == {s.subject(SCHOOL, "x").rsplit(".", 1)[0] for s in REQUESTS}
    assert min(per_request.values()) >= EXAMPLES // 2, per_request
    specs = {event_subject(s): s for s in CATALOGUE}

    config = Settings(data_dir=tmp_path, nats_url=nats_server.url, timers_enabled=False)
    clock = ManualClock(NOW)
    apps = (patrol_app, alerts_app, reports_app, visitors_app)
    kernels = [(app.create_kernel(config, clock), app.build_app) for app in apps]
    captured = Captured()
    nc = await nats.connect(nats_server.url)
    try:
        async with (
            running(*kernels[0]),
            running(*kernels[1]),
            running(*kernels[2]),
            running(*kernels[3]),
        ):
            logging.getLogger().addHandler(captured)
            try:
                # Events first (each PubAck names the stream sequence of the original).
                origin: dict[tuple[str, int], Sent] = {}
                for message in events:
                    ack = await js.publish(message.subject, message.data)
                    origin[(ack.stream, ack.seq)] = message
                replies = await request_all(nc, requests)

                for durable, (stream, _) in DURABLES.items():
                    await wait_until(
                        lambda s=stream, d=durable: consumer_drained(js, s, d),
                        within=60,
                        what=f"{durable} drained",
                    )
            finally:
                logging.getLogger().removeHandler(captured)

            # The table of readers is what the services declared, no more and no less.
            declared = {
                (stream, c.name)
                for stream in (
                    "PATROL",
                    "CONCERNS",
                    "VISITORS",
                    "ALERTS",
                    "REPORTS",
                    "SENSORS",
                    "CALENDAR",
                )
                for c in await js.consumers_info(stream)
            }
            assert declared == {(s, d) for d, (s, _) in DURABLES.items()}
            for durable, (stream, _) in DURABLES.items():  # each judged on its first delivery
                info = await js.consumer_info(stream, durable)
                assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (
                    0,
                    0,
                    0,
                ), durable
    finally:
        await nc.close()

    # Which dead letters each message must make: one per reader, except a sighting whose
    # only fault is its badge (the visitors service judges that against its visits; reports
    # reads sightings only to ignore them).
    expected: Counter[tuple[str, str, int]] = Counter()
    for (stream, seq), message in origin.items():
        for durable in readers(specs[message.subject]):
            if message.how == "badge" and durable != "visitors-sightings":
                continue
            expected[(service_of(durable), stream, seq)] += 1
    dead = await read_dead_letters(js)
    assert len(dead) == await stream_messages(js, "DLQ")

    found: Counter[tuple[str, str, int]] = Counter()
    reasons: dict[tuple[str, int], set[str]] = defaultdict(set)
    failures: list[str] = []
    for msg in dead:
        headers = msg.headers or {}
        key = (msg.subject.split(".", 1)[1], headers[DLQ_STREAM], int(headers[DLQ_SEQUENCE]))
        found[key] += 1
        reason = headers[DLQ_REASON]
        original = origin[key[1:]]
        assert headers[DLQ_SUBJECT] == original.subject
        if original.how != "badge":
            reasons[key[1:]].add(reason)
        if leaks(reason):
            failures.append(
                f"dead-letter reason quotes payload ({key[0]}, {original.subject}, "
                f"{original.how}): {reason}"
            )
        if reason.startswith(("processing failed", "undecodable message")):
            failures.append(f"a consumer crashed ({key[0]}, {original.subject}): {reason}")
    for service, stream, seq in expected - found:
        message = origin[(stream, seq)]
        failures.append(f"not dead-lettered by {service}: {message.subject} ({message.how})")
    for (service, stream, seq), n in (found - expected).items():
        message = origin[(stream, seq)]
        failures.append(f"dead-lettered {n}x too often by {service}: {message.subject}")
    for (stream, seq), texts in reasons.items():
        if len(texts) > 1:
            message = origin[(stream, seq)]
            failures.append(f"judged differently: {message.subject} ({message.how}): {texts}")

    for message, data in replies:
        where = f"{message.subject} ({message.how})"
        if data is None:
            failures.append(f"no reply: {where}")
            continue
        reply = json.loads(data)
        if not (isinstance(reply, dict) and reply.get("ok") is False):
            failures.append(f"not an error reply: {where}: {data[:300]!r}")
            continue
        error = reply.get("error")
        if not isinstance(error, str) or "internal error" in error:
            failures.append(f"internal error: {where}: {error}")
        elif leaks(error):
            failures.append(f"reply quotes payload: {where}: {error}")

    # The log was heard (one warning per dead letter), and says nothing it should not.
    logged = sum("event=dead_lettered" in line for line in captured.lines)
    if logged != len(dead):
        failures.append(f"{logged} dead letters logged, {len(dead)} made")
    for line in captured.lines:
        if leaks(line):
            failures.append(f"log quotes payload: {line[:400]}")
        if line.startswith(("ERROR", "CRITICAL")):  # request_failed, a consumer's crash…
            failures.append(f"logged an error: {line[:400]}")

    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(sorted(set(failures)))
