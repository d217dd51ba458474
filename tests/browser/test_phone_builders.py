"""The phone's event builders and code readers as pure functions, run in Chromium on the modules
the app serves (services/web/static/actions.js, badge.js, scanner.js): exact events for a
concern's update and resolution, a follow-up check-in and a badge check; the fields named when
an entry is refused; what a checkpoint's URL and a badge's QR code name."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from tests.browser.conftest import StandIn

pytestmark = pytest.mark.browser

CONCERN = "7d0f6a0e-2a51-4f3c-9a47-1c2b3d4e5f60"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# The phone's clock, frozen: Monday 23 November 2026, 10:15 in Chicago (UTC-6).
NOW = datetime.fromisoformat("2026-11-23T10:15:00-06:00")
STAMP = "2026-11-23T10:15:00.000-06:00"
ENVELOPE = {"schema_version": 1, "school_id": "lhs", "occurred_at": STAMP,
            "actor": {"kind": "sso_device", "id": "phone-test"}}  # fmt: skip

BUILD = """async ([kind, values]) => {
  const { buildAction } = await import("/static/actions.js");
  const ctx = JSON.parse(document.getElementById("lookout-context").textContent);
  try {
    const { event, label } = buildAction(kind, values, { ctx, deviceId: "phone-test" });
    return { event, label };
  } catch (err) {
    return { field: err.field ?? null, message: err.message };
  }
}"""


@pytest.fixture
async def page(browser: Any, stand_in: StandIn) -> AsyncIterator[Any]:
    context = await browser.new_context(timezone_id="America/Chicago")
    await context.clock.set_fixed_time(NOW)
    page = await context.new_page()
    await page.goto(f"{stand_in.url}/app")
    yield page
    await context.close()


async def build(page: Any, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The event (its phone-made id checked and left out) and its label, or the refusal."""
    result: dict[str, Any] = await page.evaluate(BUILD, [kind, values])
    if "event" in result:
        event_id = result["event"].pop("event_id")
        assert UUID4.match(event_id), event_id
    return result


async def test_a_concern_update_carries_what_changed_and_nothing_else(page: Any) -> None:
    full = await build(
        page,
        "concern.updated",
        {"concern_id": CONCERN, "category": "conflict", "severity": "high",
         "zone_id": "cafeteria", "student_refs": ["S-104233", "S-104240"], "note": "worse"},
    )  # fmt: skip
    assert full == {
        "event": {"type": "concern.updated", **ENVELOPE, "concern_id": CONCERN,
                  "severity": "high", "zone_id": "cafeteria",
                  "student_refs": ["S-104233", "S-104240"], "note": "worse"},
        "label": "Concern updated (conflict), now high · Cafeteria",
    }  # fmt: skip
    note_only = await build(
        page,
        "concern.updated",
        {"concern_id": CONCERN, "severity": "", "zone_id": "", "student_refs": [], "note": "calm"},
    )
    assert note_only == {
        "event": {"type": "concern.updated", **ENVELOPE, "concern_id": CONCERN, "note": "calm"},
        "label": "Concern updated",
    }


async def test_a_concern_update_that_changes_nothing_or_names_no_concern_is_refused(
    page: Any,
) -> None:
    nothing = {"concern_id": CONCERN, "severity": "", "zone_id": "", "student_refs": [], "note": ""}
    assert await build(page, "concern.updated", nothing) == {
        "field": "severity",
        "message": "change the severity, zone or students, or add a note",
    }
    assert await build(page, "concern.updated", {"concern_id": "", "severity": "low"}) == {
        "field": "concern_id",
        "message": "choose the concern",
    }


async def test_a_resolution_with_and_without_a_follow_up(page: Any) -> None:
    with_follow_up = await build(
        page,
        "concern.resolved",
        {"concern_id": CONCERN, "category": "bullying", "outcome": "referred_to_counselor",
         "note": "talked it through", "follow_up_in_school_days": "2"},
    )  # fmt: skip
    assert with_follow_up == {
        "event": {"type": "concern.resolved", **ENVELOPE, "concern_id": CONCERN,
                  "outcome": "referred_to_counselor", "note": "talked it through",
                  "follow_up_in_school_days": 2},
        "label": "Concern resolved (bullying): referred to counselor, follow-up in 2 school days",
    }  # fmt: skip
    without = await build(
        page,
        "concern.resolved",
        {"concern_id": CONCERN, "outcome": "no_action_needed", "follow_up_in_school_days": " "},
    )
    assert without == {
        "event": {"type": "concern.resolved", **ENVELOPE, "concern_id": CONCERN,
                  "outcome": "no_action_needed", "note": ""},
        "label": "Concern resolved: no action needed",
    }  # fmt: skip
    one_day = await build(
        page,
        "concern.resolved",
        {"concern_id": CONCERN, "outcome": "parent_contacted", "follow_up_in_school_days": "1"},
    )
    assert one_day["label"] == "Concern resolved: parent contacted, follow-up in 1 school day"
    assert one_day["event"]["follow_up_in_school_days"] == 1


async def test_a_follow_up_outside_1_to_20_whole_school_days_is_refused(page: Any) -> None:
    for days in ["0", "21", "1.5", "-2", "two", "020"]:
        refused = await build(
            page,
            "concern.resolved",
            {"concern_id": CONCERN, "outcome": "resolved_by_sso", "follow_up_in_school_days": days},
        )
        assert refused == {
            "field": "follow_up_in_school_days",
            "message": "a follow-up is 1 to 20 school days away",
        }, days
    twenty = await build(
        page,
        "concern.resolved",
        {"concern_id": CONCERN, "outcome": "resolved_by_sso", "follow_up_in_school_days": "20"},
    )
    assert twenty["event"]["follow_up_in_school_days"] == 20


async def test_a_resolution_needs_its_outcome(page: Any) -> None:
    assert await build(page, "concern.resolved", {"concern_id": CONCERN, "outcome": ""}) == {
        "field": "outcome",
        "message": "choose the outcome",
    }


async def test_a_follow_up_check_in_is_a_contact_about_the_concern(page: Any) -> None:
    check_in = await build(
        page,
        "contact.logged",
        {"kind": "check_in", "zone_id": "library", "student_refs": ["S-104233"],
         "note": "", "concern_id": CONCERN},
    )  # fmt: skip
    assert check_in == {
        "event": {"type": "contact.logged", **ENVELOPE, "kind": "check_in", "zone_id": "library",
                  "student_refs": ["S-104233"], "note": "", "concern_id": CONCERN},
        "label": "Contact: check in (follow-up) · Library",
    }  # fmt: skip
    plain = await build(
        page, "contact.logged", {"kind": "positive_contact", "student_refs": ["S-104233"]}
    )
    assert plain == {
        "event": {"type": "contact.logged", **ENVELOPE, "kind": "positive_contact",
                  "zone_id": None, "student_refs": ["S-104233"], "note": ""},
        "label": "Contact: positive contact",
    }  # fmt: skip


async def test_a_badge_check_is_a_sighting_where_the_officer_is(page: Any) -> None:
    assert await build(
        page, "visitor.sighted", {"badge_number": " 1123-001 ", "zone_id": "entrance-main"}
    ) == {
        "event": {"type": "visitor.sighted", **ENVELOPE, "badge_number": "1123-001",
                  "zone_id": "entrance-main"},
        "label": "Badge 1123-001 seen · Main entrance",
    }  # fmt: skip
    assert await build(page, "visitor.sighted", {"badge_number": "", "zone_id": "library"}) == {
        "field": "badge_number",
        "message": "type the badge number",
    }
    assert await build(
        page, "visitor.sighted", {"badge_number": "11 23", "zone_id": "library"}
    ) == {
        "field": "badge_number",
        "message": "a badge number is letters, digits and dashes, like 1123-001",
    }
    assert await build(page, "visitor.sighted", {"badge_number": "1123-001", "zone_id": ""}) == {
        "field": "zone_id",
        "message": "choose the zone",
    }


async def test_what_a_badge_qr_code_names(page: Any) -> None:
    cases = ["1123-001", " 1123-002\n", "", "https://example.org/b/1123-001", "1123 001",
             "x" * 17]  # fmt: skip
    names = await page.evaluate(
        """async (cases) => {
          const { badgeFromQr } = await import("/static/badge.js");
          return cases.map(badgeFromQr);
        }""",
        cases,
    )
    assert names == ["1123-001", "1123-002", None, None, None, None]


async def test_what_a_checkpoint_url_names(page: Any) -> None:
    cases = [
        "https://lookout.lakeside.example/t/lhs/T-1NB",
        "https://lookout.lakeside.example/t/lhs/T-CAF-S/",
        "https://lookout.lakeside.example/t/lhs/T-LIB?m=nfc",
        "http://192.168.1.20:8080/lookout/t/lhs/T-2SB",
        "https://lookout.lakeside.example/t/rhs/T-1NB",
        "https://lookout.lakeside.example/t/lhs/T-NOPE",
        "https://lookout.lakeside.example/app",
        "T-1NB",
        "ftp://lookout.lakeside.example/t/lhs/T-1NB",
    ]
    found = await page.evaluate(
        """async (cases) => {
          const { checkpointFromUrl } = await import("/static/scanner.js");
          const ctx = JSON.parse(document.getElementById("lookout-context").textContent);
          return cases.map((c) => checkpointFromUrl(c, { schoolId: "lhs", zones: ctx.zones }));
        }""",
        cases,
    )
    assert found == [
        {"tag": "T-1NB", "zone_id": "bath-1n-boys"},
        {"tag": "T-CAF-S", "zone_id": "cafeteria"},
        {"tag": "T-LIB", "zone_id": "library"},
        {"tag": "T-2SB", "zone_id": "bath-2s-boys"},
        {"error": "a checkpoint of another school"},
        {"error": "T-NOPE is not a checkpoint of this school"},
        {"error": "not a checkpoint's code"},
        {"error": "not a checkpoint's code"},
        {"error": "not a checkpoint's code"},
    ]


async def test_an_observation_needs_its_zone(page: Any) -> None:
    assert await build(page, "observation.logged", {"category": "vaping", "zone_id": ""}) == {
        "field": "zone_id",
        "message": "choose the zone",
    }
