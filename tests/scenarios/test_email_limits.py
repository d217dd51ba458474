"""Email and its rate limit (issue 12, item 11), through a real SMTP server: 6 emails per
person per 30 minutes; a low/medium email over the limit is deferred and bundled into one
digest when the window allows again (never dropped); high and critical are always sent at
once. No email carries student data.

Calendar: Mon 2026-11-16, school hours 08:00-15:00 America/Chicago.
"""

from __future__ import annotations

import uuid

from lookout.contracts.visitors import VisitorOutOfBounds
from tests.scenarios.conftest import Start
from tests.scenarios.harness import NOTE, STUDENT, Scenario, person, policy, school, step

AP = person("ap-b", "assistant_principal", email=True)
SSO = person("sso-a", "sso", email=True)
ONE_STEP = [policy("ap", [step("assistant_principal")])]
SIX_AT_ONCE = [
    ("Mon 11-16 09:00", "ap-b"),
    ("Mon 11-16 09:01", "ap-b"),
    ("Mon 11-16 09:02", "ap-b"),
    ("Mon 11-16 09:03", "ap-b"),
    ("Mon 11-16 09:04", "ap-b"),
    ("Mon 11-16 09:05", "ap-b"),
]


async def six_low_concerns(s: Scenario) -> None:
    for minute in range(6):
        await s.advance_to(f"11-16 09:0{minute}")
        await s.concern("vaping", "low", zone="bath-b")


def assert_no_student_data(s: Scenario) -> None:
    assert s.sink is not None
    for mail in s.sink.received:
        for secret in (STUDENT, NOTE, "Jordan"):
            assert secret not in mail.subject and secret not in mail.body


async def test_seventh_low_email_in_30_minutes_is_deferred_into_one_digest(
    scenario: Start,
) -> None:
    s = await scenario(school([AP], ONE_STEP), "2026-11-16 08:59", smtp=True)
    await six_low_concerns(s)
    await s.advance_to("11-16 09:06")
    await s.concern("vaping", "low", zone="hall-a")
    await s.advance_to("11-16 09:07")
    await s.concern("bullying", "medium", zone="hall-a")
    await s.advance_to("11-16 09:29")
    assert s.emails() == SIX_AT_ONCE  # the 7th and 8th wait
    await s.advance_to("11-16 10:30")
    assert len(s.notified()) == 8  # every alert reached the AP's client at once
    assert s.sink is not None
    assert s.emails()[:6] == SIX_AT_ONCE
    (digest,) = s.sink.received[6:]
    # When the window allows again: the 09:00 email leaves the 30-minute window at 09:30.
    assert s.when("11-16 09:30") <= digest.at <= s.when("11-16 09:36")
    deferred = [str(r["alert_id"]) for r in (await s.alert_rows("concern:"))[6:]]
    assert len(deferred) == 2
    assert all(alert_id in digest.body for alert_id in deferred)
    assert_no_student_data(s)


async def test_a_high_lone_worker_email_after_six_is_sent_at_once(scenario: Start) -> None:
    lone = policy("lone-worker", [step("assistant_principal")], ["heartbeat_missed"])
    s = await scenario(
        school([AP, person("sso-a", "sso")], [lone, *ONE_STEP]), "2026-11-16 08:59", smtp=True
    )
    await six_low_concerns(s)
    await s.advance_to("11-16 09:10")
    await s.heartbeat_missed("sso-a")
    await s.advance_to("11-16 10:30")
    assert s.emails() == [*SIX_AT_ONCE, ("Mon 11-16 09:10", "ap-b")]
    assert_no_student_data(s)


async def test_a_high_out_of_bounds_email_is_not_held_behind_a_digest(scenario: Start) -> None:
    s = await scenario(school([AP], ONE_STEP), "2026-11-16 08:59", smtp=True)
    await six_low_concerns(s)
    await s.advance_to("11-16 09:06")
    await s.concern("vaping", "low", zone="hall-a")  # deferred
    await s.advance_to("11-16 09:10")
    await s.emit(
        VisitorOutOfBounds.new(
            school_id="tiny",
            occurred_at=s.clock.now(),
            actor={"kind": "sso_device", "id": "phone-1"},
            visit_id=uuid.uuid4(),
            badge_number="B-7",
            zone_id="bath-b",
            destination_zones=["hall-a"],
        )
    )
    await s.advance_to("11-16 09:29")
    assert s.emails() == [*SIX_AT_ONCE, ("Mon 11-16 09:10", "ap-b")]
    await s.advance_to("11-16 10:30")
    assert s.sink is not None
    (digest,) = s.sink.received[7:]
    assert s.when("11-16 09:30") <= digest.at <= s.when("11-16 09:36")


async def test_the_limit_is_per_person(scenario: Start) -> None:
    both = [policy("both", [step("assistant_principal"), step("sso", delay=1)])]
    s = await scenario(school([AP, SSO], both), "2026-11-16 08:59", smtp=True)
    await six_low_concerns(s)
    await s.advance_to("11-16 09:06")
    assert [e for e in s.emails() if e[1] == "sso-a"] == [
        ("Mon 11-16 09:01", "sso-a"),
        ("Mon 11-16 09:02", "sso-a"),
        ("Mon 11-16 09:03", "sso-a"),
        ("Mon 11-16 09:04", "sso-a"),
        ("Mon 11-16 09:05", "sso-a"),
        ("Mon 11-16 09:06", "sso-a"),
    ]
    assert [e for e in s.emails() if e[1] == "ap-b"] == SIX_AT_ONCE
