"""The sensor ingress's rules, pure: what each vendor's message says (HALO set/reset strings,
Verkada `sensor_alert` webhooks, alert emails), whether it is signed, which sensor of the
school file it is, and the event it becomes (services/web/sensor_ingress.py and
sensor_mail.py do the HTTP, the SMTP and the publishing).

One alert is one event: its id is a uuid5 (SENSOR_ALERT_NAMESPACE) of the sensor's own alert —
Verkada's `alert_event_id`; for HALO and email the school, the sensor, the kind and the minute
it was set as the message says it, in the school's zone — so a retry, or the email a HALO sends
besides its HTTP message, has the id of the first and JetStream drops it (`Nats-Msg-Id`).
Errors name the field at fault, never its value."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from email.message import EmailMessage
from email.utils import parseaddr
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.sensors import (
    SENSOR_ALERT_NAMESPACE,
    SensorAlertCleared,
    SensorAlertRaised,
    SensorKind,
    SensorVendor,
)
from lookout.kernel.settings import ConfigurationError, Settings
from lookout.kernel.state_files import kept_secret
from lookout.school.config import SchoolConfig
from lookout.school.sensors import Sensor, mac_digits

log = logging.getLogger("lookout.web")

MIN_SECRET = 32
SECRET_FILE = "sensor-token.secret"
# Verkada's signature must be this fresh (by this machine's real clock): an old signed request
# replayed is refused.
VERKADA_MAX_AGE_SECONDS = 5 * 60
MAX_FIELD = 200  # a HALO field longer than this is not one a HALO wrote


class State(StrEnum):
    """Whether the message says the sensor went into alert or back out of it."""

    RAISED = "raised"
    CLEARED = "cleared"


class Malformed(ValueError):
    """The message cannot be read; the text names the field, never its value."""


# --- kinds --------------------------------------------------------------------------------------

# Checked in this order, on whole words (`Vape_Index` → `vape`, `index`): a "THC vape" alert is
# THC, a "tamper" is a tamper whatever else the text says.
KIND_WORDS: tuple[tuple[SensorKind, frozenset[str]], ...] = (
    (SensorKind.TAMPER, frozenset({"tamper", "tampered", "tampering"})),
    (SensorKind.THC, frozenset({"thc"})),
    (SensorKind.VAPE, frozenset({"vape", "vaping", "vapor", "smoke", "smoking"})),
    (
        SensorKind.LOUD_SOUND,
        frozenset({"aggression", "gunshot", "noise", "sound", "loud", "shout", "shouting"}),
    ),
)
WORD = re.compile(r"[a-z0-9]+")


def kind_of(text: str) -> SensorKind:
    """The kind a vendor's event name, reading or subject says (case-insensitive keywords;
    anything else is `other`)."""
    words = set(WORD.findall(text.lower()))
    return next((kind for kind, keys in KIND_WORDS if words & keys), SensorKind.OTHER)


# --- event ids and events -----------------------------------------------------------------------


def alert_event_id(
    school_id: str, sensor_id: str, kind: SensorKind, minute: datetime, state: State
) -> uuid.UUID:
    """A HALO's or an email's alert: the same sensor, kind and local minute is one event."""
    local = minute.strftime("%Y-%m-%dT%H:%M")
    return uuid.uuid5(SENSOR_ALERT_NAMESPACE, f"{school_id}|{sensor_id}|{kind}|{local}|{state}")


def verkada_event_id(school_id: str, alert_event_id: str, state: State) -> uuid.UUID:
    """A Verkada alert: its own `alert_event_id` (its start and its end are two events)."""
    return uuid.uuid5(SENSOR_ALERT_NAMESPACE, f"verkada|{school_id}|{alert_event_id}|{state}")


def sensor_event(
    *,
    event_id: uuid.UUID,
    school: SchoolConfig,
    sensor: Sensor,
    kind: SensorKind,
    state: State,
    vendor: SensorVendor,
    received_at: datetime,
) -> Event:
    """The event a message becomes. `occurred_at` is when the ingress received it on the
    suite's clock (vendor clocks drift, and a demo runs simulated time); the message's own
    time is only in the event id."""
    model = SensorAlertRaised if state is State.RAISED else SensorAlertCleared
    return model(
        event_id=event_id,
        type=model.event_type(),
        school_id=school.id,
        occurred_at=received_at,
        actor=Actor(kind=ActorKind.SENSOR, id=sensor.id),
        sensor_id=sensor.id,
        zone_id=sensor.zone,
        kind=kind,
        vendor=vendor,
    )


# --- HALO: a per-sensor token in the path ------------------------------------------------------


def sensor_secret(settings: Settings) -> bytes:
    """LOOKOUT_SENSOR_SECRET (at least 32 characters; the same for every web replica and the
    CLI that prints the URLs), else this deployment's own: generated on first start and kept in
    `<data dir>/sensor-token.secret` (0600). Changing it changes every HALO's URL."""
    explicit = settings.sensor_secret.get_secret_value()
    if explicit:
        if len(explicit) < MIN_SECRET:
            raise ConfigurationError(f"LOOKOUT_SENSOR_SECRET: at least {MIN_SECRET} characters")
        return explicit.encode("utf-8")
    path = settings.data_dir / SECRET_FILE
    if not settings.provision_streams:  # a production deploy
        log.warning(
            "event=sensor_secret_generated path=%s: set LOOKOUT_SENSOR_SECRET (the same for "
            "every web replica), or a HALO's URL works on one replica only",
            path,
        )
    try:
        secret = kept_secret(path, "LOOKOUT_SENSOR_SECRET")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return secret.encode("utf-8")


def _halo_mac(secret: bytes, school_id: str, sensor_id: str) -> str:
    digest = hmac.new(secret, f"halo|{school_id}|{sensor_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def halo_token(secret: bytes, school_id: str, sensor_id: str) -> str:
    """`<school>.<sensor id>.<HMAC-SHA256(secret, "halo|<school>|<sensor id>"), base64url>`."""
    return f"{school_id}.{sensor_id}.{_halo_mac(secret, school_id, sensor_id)}"


def halo_token_holder(secret: bytes, token: str) -> tuple[str, str] | None:
    """The (school, sensor id) a token this deployment made names; None for any other token
    (compared in constant time)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 200:
        return None
    school_id, sensor_id, mac = parts
    expected = _halo_mac(secret, school_id, sensor_id)
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    return school_id, sensor_id


HALO_FIELDS = ("name", "mac", "eid", "date", "time", "state")


def halo_set_string(url: str, state: str) -> str:
    """What to paste as a HALO's Set (`state` "set") or Reset ("reset") String."""
    body = {
        "name": "%NAME%",
        "mac": "%MAC%",
        "eid": "%EID%",
        "date": "%DATE%",
        "time": "%TIME%",
        "state": state,
    }
    return f"POST:{url}[JSONBODY]{json.dumps(body, separators=(', ', ': '))}"


def halo_query_string(url: str, state: str) -> str:
    """The same message as a query string, for a HALO set to GET."""
    fields = "name=%NAME%&mac=%MAC%&eid=%EID%&date=%DATE%&time=%TIME%"
    return f"GET:{url}?{fields}&state={state}"


@dataclass(frozen=True)
class HaloMessage:
    name: str | None
    mac: str | None
    kind: SensorKind
    state: State
    at: datetime  # the moment the HALO says, in the school's zone (naive: local wall time)


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")
TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")


def _parse(text: str, formats: tuple[str, ...], field: str) -> Any:
    for fmt in formats:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise Malformed(f"{field}: not a date or time a HALO writes")


def _field(fields: dict[str, Any], name: str, required: bool, where: str = "") -> str | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Malformed(f"{where}{name}: missing")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Malformed(f"{where}{name}: not text")
    text = str(value).strip()
    if len(text) > MAX_FIELD:
        raise Malformed(f"{where}{name}: too long")
    return text


def parse_halo(fields: dict[str, Any]) -> HaloMessage:
    """A HALO set/reset message's fields (its JSON body, or its query string)."""
    state_text = (_field(fields, "state", True) or "").lower()
    states = {"set": State.RAISED, "reset": State.CLEARED}
    if state_text not in states:
        raise Malformed("state: not set or reset")
    eid = _field(fields, "eid", True) or ""
    day: date = _parse(_field(fields, "date", True) or "", DATE_FORMATS, "date").date()
    clock: time = _parse(_field(fields, "time", True) or "", TIME_FORMATS, "time").time()
    return HaloMessage(
        name=_field(fields, "name", False),
        mac=_field(fields, "mac", False),
        kind=kind_of(eid),
        state=states[state_text],
        at=datetime.combine(day, clock),
    )


def halo_mismatch(sensor: Sensor, message: HaloMessage) -> str | None:
    """Why the message is not this sensor's (a MAC or name the school file gives otherwise)."""
    mac, name = message.mac, message.name
    if mac is not None and sensor.mac is not None and mac_digits(mac) != mac_digits(sensor.mac):
        return "mac: not this sensor's"
    if name is not None and sensor.name is not None and name.casefold() != sensor.name.casefold():
        return "name: not this sensor's"
    return None


def halo_event(
    school: SchoolConfig,
    sensor: Sensor,
    message: HaloMessage,
    received_at: datetime,
) -> Event:
    event_id = alert_event_id(school.id, sensor.id, message.kind, message.at, message.state)
    return sensor_event(
        event_id=event_id,
        school=school,
        sensor=sensor,
        kind=message.kind,
        state=message.state,
        vendor=SensorVendor.HALO,
        received_at=received_at,
    )


# --- Verkada: a signed webhook ------------------------------------------------------------------


def verkada_signature(secret: bytes, body: bytes, timestamp: str) -> str:
    """Verkada's signature: HMAC-SHA256(secret, `<raw body>|<timestamp>`), hex."""
    return hmac.new(secret, body + b"|" + timestamp.encode(), hashlib.sha256).hexdigest()


def verkada_refusal(secret: bytes, body: bytes, header: str | None, now: float) -> str | None:
    """None when `Verkada-Signature: <timestamp>|<hex signature>` signs this body and is at
    most five minutes from `now` (this machine's real clock); else the refusal's reason
    (`signature` or `stale`)."""
    if not secret or not header or "|" not in header:
        return "signature"
    timestamp, signature = header.strip().split("|", 1)
    expected = verkada_signature(secret, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        return "signature"
    try:
        signed_at = float(timestamp)
    except ValueError:
        return "signature"
    if abs(now - signed_at) > VERKADA_MAX_AGE_SECONDS:
        return "stale"
    return None


@dataclass(frozen=True)
class VerkadaAlert:
    alert_event_id: str
    device_id: str
    kind: SensorKind
    state: State


def parse_verkada(body: bytes) -> VerkadaAlert:
    """A `sensor_alert` webhook's alert: no `end_time` yet is a raise, one is its clearing."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("<body>: not JSON") from None
    if not isinstance(payload, dict):
        raise Malformed("<body>: not a JSON object")
    if payload.get("webhook_type") != "sensor_alert":
        raise Malformed("webhook_type: not sensor_alert")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise Malformed("data: missing")
    alert_id = _field(data, "alert_event_id", True, "data.") or ""
    device_id = _field(data, "device_id", True, "data.") or ""
    reading = _field(data, "reading", False, "data.") or ""
    end = data.get("end_time")
    if end is not None and (not isinstance(end, int | float) or isinstance(end, bool)):
        raise Malformed("data.end_time: not a Unix timestamp")
    return VerkadaAlert(
        alert_event_id=alert_id,
        device_id=device_id,
        kind=kind_of(reading),
        state=State.RAISED if end is None else State.CLEARED,
    )


def verkada_sensor(school: SchoolConfig, device_id: str) -> Sensor | None:
    return next(
        (
            s
            for s in school.sensors.devices
            if s.vendor is SensorVendor.VERKADA and s.device_id == device_id
        ),
        None,
    )


def verkada_event(
    school: SchoolConfig, sensor: Sensor, alert: VerkadaAlert, received_at: datetime
) -> Event:
    return sensor_event(
        event_id=verkada_event_id(school.id, alert.alert_event_id, alert.state),
        school=school,
        sensor=sensor,
        kind=alert.kind,
        state=alert.state,
        vendor=SensorVendor.VERKADA,
        received_at=received_at,
    )


# --- email --------------------------------------------------------------------------------------

CLEARED_WORDS = frozenset({"reset", "cleared", "clear", "ended"})


def address(text: str) -> str:
    """An address as compared: the bare address, lowercase (`"HALO" <A@B.org>` → `a@b.org`)."""
    return parseaddr(text)[1].strip().lower()


def sender_schools(schools: dict[str, SchoolConfig], sender: str) -> list[SchoolConfig]:
    """The schools whose `sensors.email_senders` include `sender`."""
    who = address(sender)
    return [
        s for s in schools.values() if who and who in {a.lower() for a in s.sensors.email_senders}
    ]


def sensor_named(schools: list[SchoolConfig], subject: str) -> tuple[SchoolConfig, Sensor] | None:
    """The sensor whose name the subject holds (the longest name that matches, case-insensitive:
    "Gym Boys Locker 2" is not "Gym Boys Locker")."""
    text = subject.casefold()
    found = [
        (len(sensor.name), school, sensor)
        for school in schools
        for sensor in school.sensors.devices
        if sensor.name
        and re.search(rf"(?<![\w]){re.escape(sensor.name.casefold())}(?![\w])", text) is not None
    ]
    if not found:
        return None
    _, school, sensor = max(found, key=lambda f: f[0])
    return school, sensor


@dataclass(frozen=True)
class MailAlert:
    school: SchoolConfig
    sensor: Sensor
    kind: SensorKind
    state: State
    at: datetime  # the Date header, in the school's zone (naive: local wall time)


def mail_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    try:
        return str(part.get_content())[:10_000] if part is not None else ""
    except (LookupError, ValueError):
        return ""


def parse_mail(
    schools: list[SchoolConfig], message: EmailMessage, received_at: datetime
) -> MailAlert:
    """An alert email from an allowed sender: the sensor named in its subject, the kind from
    its subject (else its text), raised unless the subject says reset/cleared, at the minute
    its Date header says (else when it arrived). LookupError: no sensor is named."""
    subject = str(message.get("subject", ""))[:500]
    found = sensor_named(schools, subject)
    if found is None:
        raise LookupError("subject: names no sensor of the school file")
    school, sensor = found
    kind = kind_of(subject)
    if kind is SensorKind.OTHER:
        kind = kind_of(mail_text(message))
    words = set(WORD.findall(subject.lower()))
    state = State.CLEARED if words & CLEARED_WORDS else State.RAISED
    try:
        sent = message["date"].datetime if message.get("date") else None
    except (AttributeError, TypeError, ValueError):
        sent = None
    if sent is None or sent.tzinfo is None:
        sent = received_at
    return MailAlert(school, sensor, kind, state, local_minute(sent, school.tz))


def local_minute(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


def mail_event(alert: MailAlert, received_at: datetime) -> Event:
    return sensor_event(
        event_id=alert_event_id(
            alert.school.id, alert.sensor.id, alert.kind, alert.at, alert.state
        ),
        school=alert.school,
        sensor=alert.sensor,
        kind=alert.kind,
        state=alert.state,
        vendor=SensorVendor.EMAIL,
        received_at=received_at,
    )
