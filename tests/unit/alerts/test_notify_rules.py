"""Per-person notification rules (issue 16): the school file's `phone` and `notify`, checked at
start-up with one line naming the field; the deliveries an escalation step makes from them (due
times written by hand); what a push and a text say; reply codes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from lookout.contracts.patrol import Severity
from lookout.kernel.settings import (
    EXAMPLE_SCHOOL,
    ConfigurationError,
    SchoolConfigError,
    Settings,
    load_school,
)
from lookout.school.config import NotifyChannel, Person
from services.alerts import app as alerts_app
from services.alerts import notices

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
PUSH, SMS, EMAIL = NotifyChannel.PUSH, NotifyChannel.SMS, NotifyChannel.EMAIL
AID = uuid.UUID("0b7e5d3a-5a38-4bb5-8d3e-3f0c2a9e1f11")


def person(**fields: Any) -> Person:
    return Person.model_validate({"id": "pr-c", "name": "Pat", "roles": ["principal"], **fields})


def lakeside_with(tmp_path: Path, change: dict[str, Any]) -> Path:
    doc = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))
    doc["people"][2].update(change)  # principal-okafor
    path = tmp_path / "lhs.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


# --- deliveries -------------------------------------------------------------------------------


def test_a_critical_rule_pushes_and_texts_at_once_and_emails_two_minutes_later() -> None:
    p = person(
        email="p@school.example.org",
        phone="+15555550103",
        notify={"critical": ["push", "sms", {"channel": "email", "after_minutes": 2}]},
    )
    assert notices.deliveries(p, Severity.CRITICAL, AT) == (
        notices.Delivery(PUSH, datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
        notices.Delivery(SMS, datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
        notices.Delivery(EMAIL, datetime(2026, 11, 23, 14, 2, tzinfo=UTC)),
    )
    (_, _, email) = notices.deliveries(p, Severity.CRITICAL, AT)
    assert email.delayed(AT)


def test_a_severity_without_a_rule_is_emailed_at_once_as_before() -> None:
    p = person(email="p@school.example.org", notify={"low": ["email"], "critical": ["push"]})
    assert notices.deliveries(p, Severity.HIGH, AT) == (notices.Delivery(EMAIL, AT),)
    assert notices.deliveries(p, Severity.CRITICAL, AT) == (notices.Delivery(PUSH, AT),)
    no_rules = person(email="p@school.example.org")
    assert notices.deliveries(no_rules, Severity.MEDIUM, AT) == (notices.Delivery(EMAIL, AT),)
    # Nobody to email and no rule: the Lookout client alone, as before rules existed.
    assert notices.deliveries(person(), Severity.CRITICAL, AT) == ()


# --- the school file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"phone": None, "notify": {"critical": ["sms"]}},
            "people.2: person principal-okafor: notify.critical: sms needs a phone",
        ),
        (
            {"email": None, "notify": {"low": [{"channel": "email", "after_minutes": 5}]}},
            "people.2: person principal-okafor: notify.low: email needs an email",
        ),
        (
            {"notify": {"high": ["push", {"channel": "push", "after_minutes": 3}]}},
            "people.2: person principal-okafor: notify.high: a channel is listed twice",
        ),
        ({"phone": "555-0103"}, "people.2.phone: String should match pattern"),
        ({"notify": {"urgent": ["push"]}}, "people.2.notify.urgent.[key]: Input should be"),
        ({"notify": {"high": ["fax"]}}, "people.2.notify.high.0.channel: Input should be"),
        ({"notify": {"high": []}}, "people.2.notify.high: List should have at least 1 item"),
        (
            {"notify": {"high": [{"channel": "email", "after_minutes": -1}]}},
            "people.2.notify.high.0.after_minutes: Input should be greater than or equal to 0",
        ),
    ],
)
def test_a_rule_that_cannot_be_kept_is_refused_in_one_line_naming_the_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = lakeside_with(tmp_path, change)
    with pytest.raises(SchoolConfigError) as refused:
        load_school(path)
    assert str(refused.value).startswith(f"{path}: {message}")
    assert "\n" not in str(refused.value)


def test_sms_without_an_sms_account_stops_the_alerts_service_at_start_up(tmp_path: Path) -> None:
    path = lakeside_with(tmp_path, {"notify": {"critical": ["sms", "email"]}})
    settings = Settings(
        data_dir=tmp_path / "data", nats_url="nats://127.0.0.1:1", schools=str(path)
    )
    with pytest.raises(ConfigurationError) as refused:
        alerts_app.build(alerts_app.create_kernel(settings))
    assert str(refused.value) == (
        "school lhs: person principal-okafor: notify uses sms, but no SMS account is configured "
        "(LOOKOUT_SMS_ACCOUNT_SID, LOOKOUT_SMS_AUTH_TOKEN, LOOKOUT_SMS_FROM)"
    )
    # With the account, it builds.
    account = settings.model_copy(
        update={
            "sms_account_sid": "AC1",
            "sms_auth_token": SecretStr("t"),
            "sms_from": "+15555550199",
        }
    )
    alerts_app.build(alerts_app.create_kernel(account))


def test_the_example_school_gives_its_leaders_phones_and_push_first() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    okafor = next(p for p in school.people if p.id == "principal-okafor")
    assert okafor.phone == "+15555550103"
    assert okafor.notify_rule(Severity.CRITICAL) == okafor.notify_rule(Severity.HIGH)
    assert [b.channel for b in okafor.notify_rule(Severity.CRITICAL)] == [PUSH, EMAIL]
    assert [b.channel for b in okafor.notify_rule(Severity.LOW)] == [EMAIL]
    assert not any(p.uses_sms() for p in school.people)  # the demo has no SMS account


# --- what a push and a text say ----------------------------------------------------------------


def about(zone: str | None = "gym", step: int = 1) -> notices.About:
    return notices.About(AID, Severity.CRITICAL, "weapon", zone, step)


def test_a_push_says_words_and_carries_the_acknowledge_path() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    assert notices.push_payload(school, about(), "/ack/LA1.x.y") == {
        "alert_id": "0b7e5d3a-5a38-4bb5-8d3e-3f0c2a9e1f11",
        "title": "CRITICAL alert: weapon",
        "body": "Gymnasium. Escalation step 2. Lakeside High School",
        "ack_url": "/ack/LA1.x.y",
        "url": "/app",
        "tag": "alert-0b7e5d3a-5a38-4bb5-8d3e-3f0c2a9e1f11",
    }
    no_place = notices.push_payload(school, about(zone=None, step=0), None)
    assert (no_place["body"], no_place["ack_url"]) == (
        "No place given. Escalation step 1. Lakeside High School",
        "",
    )


def test_a_text_fits_one_message_and_gives_the_reply_codes() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    assert notices.sms_text(school, about(), 3, may_ack=True) == (
        "Lookout LHS: CRITICAL weapon, Gymnasium (step 2). Reply 3a ack, 3e escalate"
    )
    assert notices.sms_text(school, about(zone=None), 12, may_ack=False) == (
        "Lookout LHS: CRITICAL weapon (step 2). See the Lookout app"
    )
    long_zone = school.model_copy(
        update={"zones": [z.model_copy(update={"name": "W" * 150}) for z in school.zones]}
    )
    text = notices.sms_text(long_zone, about(), 999, may_ack=True)
    assert len(text) == 160
    assert text.endswith("... Reply 999a ack, 999e escalate")


def test_numbers_run_from_1_to_999_then_start_again() -> None:
    assert [notices.next_sms_number(n) for n in (None, 1, 41, 998, 999)] == [1, 2, 42, 999, 1]


@pytest.mark.parametrize(
    ("code", "parsed"),
    [
        ("1a", notices.ReplyCode(1, "a")),
        (" 12E ", notices.ReplyCode(12, "e")),
        ("999c", notices.ReplyCode(999, "c")),
        ("0a", None),
        ("1000a", None),
        ("1x", None),
        ("a1", None),
        ("", None),
    ],
)
def test_reply_codes(code: str, parsed: notices.ReplyCode | None) -> None:
    assert notices.parse_reply(code) == parsed


def test_every_reply_action_has_one_text_message_back() -> None:
    from lookout.contracts.alerts import SmsReplyAction

    messages = {a: notices.reply_message(999, a) for a in SmsReplyAction}
    assert messages[SmsReplyAction.NO_FURTHER_STEP] == (
        "Alert 999: everyone its policy names was told; no step is left. Reply 999a to "
        "acknowledge, or resolve it in the console."
    )
    assert all(len(m) <= 160 for m in messages.values())
