"""The sensor ingress's rules, with no server: HALO tokens and set/reset messages (JSON and query
string), Verkada signatures computed here from Verkada's documented formula (not by the code
under test), a stale timestamp, alert emails, and the event ids each alert gets — written out
by hand, so a HALO's HTTP message and its email of the same minute are seen to be one event."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from lookout.contracts.sensors import (
    SENSOR_ALERT_NAMESPACE,
    SensorAlertCleared,
    SensorAlertRaised,
    SensorKind,
    SensorVendor,
)
from lookout.kernel.settings import EXAMPLE_SCHOOL, load_school
from services.web.sensor_messages import (
    HaloMessage,
    Malformed,
    State,
    halo_event,
    halo_mismatch,
    halo_query_string,
    halo_set_string,
    halo_token,
    halo_token_holder,
    kind_of,
    mail_event,
    parse_halo,
    parse_mail,
    parse_verkada,
    sender_schools,
    verkada_event,
    verkada_refusal,
    verkada_sensor,
)

SCHOOL = load_school(EXAMPLE_SCHOOL)
SECRET = b"sensor-secret-for-tests-0123456789abcdef"
VERKADA_SECRET = b"verkada-shared-secret"
RECEIVED = datetime(2026, 12, 7, 16, 15, 40, tzinfo=UTC)  # Monday 10:15:40 in Chicago
HALO_1N = SCHOOL.sensors.by_id("halo-1n-boys")
VERKADA_DEVICE = "e637120c-09bb-4601-a8bf-dcf54d46aece"


def by_hand(name: str) -> uuid.UUID:
    return uuid.uuid5(SENSOR_ALERT_NAMESPACE, name)


# --- kinds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Vape", SensorKind.VAPE),
        ("VAPE", SensorKind.VAPE),
        ("THC", SensorKind.THC),
        ("vape_index", SensorKind.VAPE),
        ("Aggression", SensorKind.LOUD_SOUND),
        ("Gunshot", SensorKind.LOUD_SOUND),
        ("noise_level", SensorKind.LOUD_SOUND),
        ("Tamper", SensorKind.TAMPER),
        ("HALO alert: THC vape detected", SensorKind.THC),
        ("Health_Index", SensorKind.OTHER),
        ("Motion", SensorKind.OTHER),
        ("", SensorKind.OTHER),
        ("Vaporetto", SensorKind.OTHER),  # a word, not a prefix
    ],
)
def test_kinds_by_keyword(text: str, kind: SensorKind) -> None:
    assert kind_of(text) is kind


# --- HALO -----------------------------------------------------------------------------------


def test_a_halo_token_names_its_sensor_and_is_an_hmac_of_school_and_id() -> None:
    token = halo_token(SECRET, "lhs", "halo-1n-boys")

    mac = hmac.new(SECRET, b"halo|lhs|halo-1n-boys", hashlib.sha256).digest()
    assert token == "lhs.halo-1n-boys." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert halo_token_holder(SECRET, token) == ("lhs", "halo-1n-boys")


@pytest.mark.parametrize(
    "token",
    [
        "lhs.halo-1n-girls." + "A" * 43,  # another sensor's name with a made-up mac
        "lhs.halo-1n-boys",
        "",
        "lhs.halo-1n-boys.x.y",
    ],
)
def test_other_tokens_name_nothing(token: str) -> None:
    assert halo_token_holder(SECRET, token) is None
    real = halo_token(SECRET, "lhs", "halo-1n-boys")
    assert halo_token_holder(b"another-deployment-secret-0123456789", real) is None
    # The mac of one sensor does not open another.
    mac = real.rsplit(".", 1)[1]
    assert halo_token_holder(SECRET, f"lhs.halo-1n-girls.{mac}") is None


def halo_fields(**over: str) -> dict[str, str]:
    fields = {
        "name": "HALO 1N Boys",
        "mac": "00:1A:2B:3C:4D:01",
        "eid": "Vape",
        "date": "12/07/2026",
        "time": "10:15:32",
        "state": "set",
    }
    return fields | over


def test_a_halo_set_is_a_raise_with_the_id_of_its_sensor_kind_and_minute() -> None:
    message = parse_halo(halo_fields())
    assert message == HaloMessage(
        name="HALO 1N Boys",
        mac="00:1A:2B:3C:4D:01",
        kind=SensorKind.VAPE,
        state=State.RAISED,
        at=datetime(2026, 12, 7, 10, 15, 32),
    )
    event = halo_event(SCHOOL, HALO_1N, message, RECEIVED)
    assert event == SensorAlertRaised(
        event_id=by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:15|raised"),
        type="sensor.alert.raised",
        school_id="lhs",
        occurred_at=RECEIVED,
        actor={"kind": "sensor", "id": "halo-1n-boys"},
        sensor_id="halo-1n-boys",
        zone_id="bath-1n-boys",
        kind=SensorKind.VAPE,
        vendor=SensorVendor.HALO,
    )
    # A retry a few seconds later in the same minute is the same event.
    again = halo_event(SCHOOL, HALO_1N, parse_halo(halo_fields(time="10:15:59")), RECEIVED)
    assert again.event_id == event.event_id
    later = halo_event(SCHOOL, HALO_1N, parse_halo(halo_fields(time="10:16:00")), RECEIVED)
    assert later.event_id == by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:16|raised")


def test_a_halo_reset_is_a_clearing() -> None:
    message = parse_halo(halo_fields(state="reset", time="10:19:05", date="2026-12-07"))
    event = halo_event(SCHOOL, HALO_1N, message, RECEIVED)
    assert isinstance(event, SensorAlertCleared)
    assert event.event_id == by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:19|cleared")
    assert (event.kind, event.zone_id, event.vendor) == (
        SensorKind.VAPE,
        "bath-1n-boys",
        SensorVendor.HALO,
    )


def test_a_halo_query_string_reads_as_its_json_and_an_unknown_eid_is_other() -> None:
    from urllib.parse import parse_qsl

    query = (
        "name=HALO+1N+Boys&mac=001a2b3c4d01&eid=Health_Index&date=2026-12-07&time=10:15%20AM"
        "&state=reset"
    )
    message = parse_halo(dict(parse_qsl(query)))
    assert message == HaloMessage(
        name="HALO 1N Boys",
        mac="001a2b3c4d01",
        kind=SensorKind.OTHER,
        state=State.CLEARED,
        at=datetime(2026, 12, 7, 10, 15),
    )
    assert halo_mismatch(HALO_1N, message) is None
    event = halo_event(SCHOOL, HALO_1N, message, RECEIVED)
    assert event.event_id == by_hand("lhs|halo-1n-boys|other|2026-12-07T10:15|cleared")


def test_a_halo_message_without_its_state_or_with_a_bad_date_is_malformed() -> None:
    with pytest.raises(Malformed, match=r"^state: missing$"):
        parse_halo({k: v for k, v in halo_fields().items() if k != "state"})
    with pytest.raises(Malformed, match=r"^state: not set or reset$"):
        parse_halo(halo_fields(state="on"))
    with pytest.raises(Malformed, match=r"^date: not a date or time a HALO writes$"):
        parse_halo(halo_fields(date="07.12.26"))
    with pytest.raises(Malformed, match=r"^eid: missing$"):
        parse_halo(halo_fields(eid=" "))
    with pytest.raises(Malformed, match=r"^time: not text$"):
        parse_halo(halo_fields() | {"time": ["10:15"]})  # type: ignore[dict-item]


def test_a_mac_or_name_that_is_not_the_sensors_is_a_mismatch() -> None:
    assert halo_mismatch(HALO_1N, parse_halo(halo_fields(mac="00-1a-2b-3c-4d-01"))) is None
    assert halo_mismatch(HALO_1N, parse_halo(halo_fields(name="halo 1n boys"))) is None
    assert halo_mismatch(HALO_1N, parse_halo(halo_fields(mac="00:1A:2B:3C:4D:02"))) == (
        "mac: not this sensor's"
    )
    assert halo_mismatch(HALO_1N, parse_halo(halo_fields(name="HALO 1N Girls"))) == (
        "name: not this sensor's"
    )


def test_the_strings_to_paste_into_a_halo() -> None:
    url = "https://lookout.test/sensors/halo/T"
    assert halo_set_string(url, "set") == (
        'POST:https://lookout.test/sensors/halo/T[JSONBODY]{"name": "%NAME%", "mac": "%MAC%", '
        '"eid": "%EID%", "date": "%DATE%", "time": "%TIME%", "state": "set"}'
    )
    assert halo_query_string(url, "reset") == (
        "GET:https://lookout.test/sensors/halo/T?name=%NAME%&mac=%MAC%&eid=%EID%&date=%DATE%"
        "&time=%TIME%&state=reset"
    )


# --- Verkada --------------------------------------------------------------------------------


def verkada_body(end_time: float | None = None, reading: str = "vape_index") -> bytes:
    return json.dumps(
        {
            "webhook_type": "sensor_alert",
            "org_id": "0d8a1c2e-org",
            "webhook_id": "7f3c-webhook",
            "created_at": 1796660140,
            "data": {
                "alert_event_id": "a1b2c3d4-alert",
                "start_time": 1796660100.5,
                "end_time": end_time,
                "most_extreme_value": 87.0,
                "threshold": 60.0,
                "reading": reading,
                "device_id": VERKADA_DEVICE,
                "device_name": "2S Boys",
                "device_serial": "ABCD-1234-EFGH",
            },
        }
    ).encode()


def test_a_verkada_signature_is_accepted_as_verkada_documents_it() -> None:
    body = verkada_body()
    timestamp = "1796660140"
    # Verkada's formula, by hand: HMAC-SHA256(secret, "<raw body>|<timestamp>"), hex.
    signature = hmac.new(VERKADA_SECRET, body + b"|1796660140", hashlib.sha256).hexdigest()
    header = f"{timestamp}|{signature}"
    assert verkada_refusal(VERKADA_SECRET, body, header, now=1796660140 + 299) is None
    assert verkada_refusal(VERKADA_SECRET, body, header, now=1796660140 + 301) == "stale"
    assert verkada_refusal(VERKADA_SECRET, body, header, now=1796660140 - 301) == "stale"
    assert verkada_refusal(VERKADA_SECRET, body + b" ", header, 1796660140) == "signature"
    assert verkada_refusal(b"another", body, header, 1796660140) == "signature"
    assert verkada_refusal(VERKADA_SECRET, body, None, 1796660140) == "signature"
    assert verkada_refusal(VERKADA_SECRET, body, signature, 1796660140) == "signature"
    assert verkada_refusal(b"", body, header, 1796660140) == "signature"  # no secret set


def test_a_verkada_alert_is_raised_until_it_has_an_end() -> None:
    sensor = verkada_sensor(SCHOOL, VERKADA_DEVICE)
    assert sensor is not None and sensor.id == "verkada-2s-boys"
    raised = verkada_event(SCHOOL, sensor, parse_verkada(verkada_body()), RECEIVED)
    assert raised == SensorAlertRaised(
        event_id=by_hand("verkada|lhs|a1b2c3d4-alert|raised"),
        type="sensor.alert.raised",
        school_id="lhs",
        occurred_at=RECEIVED,
        actor={"kind": "sensor", "id": "verkada-2s-boys"},
        sensor_id="verkada-2s-boys",
        zone_id="bath-2s-boys",
        kind=SensorKind.VAPE,
        vendor=SensorVendor.VERKADA,
    )
    cleared = verkada_event(SCHOOL, sensor, parse_verkada(verkada_body(1796660400.0)), RECEIVED)
    assert isinstance(cleared, SensorAlertCleared)
    assert cleared.event_id == by_hand("verkada|lhs|a1b2c3d4-alert|cleared")
    assert parse_verkada(verkada_body(reading="noise_level")).kind is SensorKind.LOUD_SOUND
    assert verkada_sensor(SCHOOL, "not-a-device") is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "<body>: not JSON"),
        (b"[]", "<body>: not a JSON object"),
        (b'{"webhook_type": "notification"}', "webhook_type: not sensor_alert"),
        (b'{"webhook_type": "sensor_alert"}', "data: missing"),
        (
            b'{"webhook_type": "sensor_alert", "data": {"device_id": "d"}}',
            "data.alert_event_id: missing",
        ),
        (
            b'{"webhook_type": "sensor_alert", "data": {"alert_event_id": "a", "device_id": "d",'
            b' "end_time": "soon"}}',
            "data.end_time: not a Unix timestamp",
        ),
    ],
)
def test_a_malformed_verkada_webhook_names_its_field(body: bytes, reason: str) -> None:
    with pytest.raises(Malformed) as caught:
        parse_verkada(body)
    assert str(caught.value) == reason


# --- email ----------------------------------------------------------------------------------


def mail(subject: str, date: str = "Mon, 07 Dec 2026 16:15:58 +0000", body: str = "") -> Any:
    message = EmailMessage()
    message["From"] = "HALO <alerts@sensors.lakeside.example.org>"
    message["To"] = "sensors@lookout.test"
    message["Subject"] = subject
    message["Date"] = date
    message.set_content(body or "An event was detected.")
    return message


def test_a_halo_email_is_the_same_event_as_its_http_message_of_the_same_minute() -> None:
    schools = sender_schools({"lhs": SCHOOL}, "HALO <Alerts@Sensors.Lakeside.example.org>")
    assert [s.id for s in schools] == ["lhs"]
    assert sender_schools({"lhs": SCHOOL}, "someone@example.org") == []
    alert = parse_mail(schools, mail("HALO 1N Boys: Vape event set"), RECEIVED)
    assert (alert.sensor.id, alert.kind, alert.state) == ("halo-1n-boys", SensorKind.VAPE, "raised")
    assert alert.at == datetime(2026, 12, 7, 10, 15)  # 16:15 UTC is 10:15 in Chicago
    event = mail_event(alert, RECEIVED)
    http = halo_event(SCHOOL, HALO_1N, parse_halo(halo_fields()), RECEIVED)
    assert (
        event.event_id == http.event_id == by_hand("lhs|halo-1n-boys|vape|2026-12-07T10:15|raised")
    )
    assert event.vendor is SensorVendor.EMAIL


def test_an_email_sensor_by_name_with_its_kind_from_the_text() -> None:
    schools = [SCHOOL]
    alert = parse_mail(
        schools,
        mail("Alert: Gym Boys Locker", date="Mon, 07 Dec 2026 10:20:03 -0600", body="THC detected"),
        RECEIVED,
    )
    assert (alert.sensor.id, alert.kind, alert.state) == (
        "soter-gym-boys",
        SensorKind.THC,
        "raised",
    )
    event = mail_event(alert, RECEIVED)
    assert event.event_id == by_hand("lhs|soter-gym-boys|thc|2026-12-07T10:20|raised")
    cleared = parse_mail(schools, mail("Gym Boys Locker vape alert cleared"), RECEIVED)
    assert cleared.state is State.CLEARED and cleared.kind is SensorKind.VAPE
    with pytest.raises(LookupError):
        parse_mail(schools, mail("Vape alert: Gym Girls Locker"), RECEIVED)
    with pytest.raises(LookupError):
        parse_mail(schools, mail("Vape alert: Gym Boys Lockers"), RECEIVED)  # not the name


def test_a_mail_listener_without_its_address_stops_the_web_at_start(tmp_path: Any) -> None:
    from lookout.kernel.settings import ConfigurationError, Settings
    from services.web.app import create_app

    with pytest.raises(ConfigurationError, match=r"^LOOKOUT_SENSOR_MAIL_TO: the address"):
        create_app(Settings(data_dir=tmp_path, sensor_mail_port=2525))
    create_app(Settings(data_dir=tmp_path, sensor_mail_port=2525, sensor_mail_to="s@x.org"))
