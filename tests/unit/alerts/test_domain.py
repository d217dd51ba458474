"""Escalation rules, pure, on the example school (America/Chicago, CST = UTC-6 in November).

Each test drives an alert through its policy with explicit times and checks every step fired
or skipped, when, and whom it reached.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lookout.contracts.alerts import AlertSource, AlertStatus, HeartbeatMissed, RoutingState
from lookout.contracts.patrol import CheckMissed, ConcernRaised, FollowUpMissed, Severity
from lookout.contracts.visitors import ScreeningFlagged, VisitorOutOfBounds, VisitorOverdue
from lookout.school.config import EscalationPolicyConfig, SchoolConfig, StepWhen
from services.alerts import domain
from services.alerts.domain import (
    AlertFacts,
    Escalation,
    Fired,
    PolicySnapshot,
    Refusal,
    Skipped,
    StepSnapshot,
)

CHI = ZoneInfo("America/Chicago")
ACTOR = {"kind": "sso_device", "id": "phone-rivera"}
CID = uuid.UUID("0b6f3f7e-9a43-4c55-8f43-5d0e0c1f2a3b")
VID = uuid.UUID("7a0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d")


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHI)


def policy(school: SchoolConfig, name: str) -> PolicySnapshot:
    return PolicySnapshot.of(next(p for p in school.escalation_policies if p.name == name))


Row = tuple[float, str, int, int, tuple[str, ...] | str]


def drive(
    school: SchoolConfig, snap: PolicySnapshot, start: datetime, limit: int = 30
) -> tuple[list[Row], domain.Outcome]:
    """Open at `start`, fire at every deadline; (minutes after start, fired/skipped, step,
    pass, people or reason) for each action, and the last outcome."""
    state = domain.opened(snap, start)
    rows: list[Row] = []
    outcome = domain.Outcome(state)
    while state.next_step_at is not None and len(rows) < limit:
        at = state.next_step_at
        outcome = domain.fire(school, snap, state, at)
        for a in outcome.actions:
            minutes = (at - start) / timedelta(minutes=1)
            if isinstance(a, Fired):
                rows.append((minutes, "fired", a.step, a.repeat, tuple(p.id for p in a.notified)))
            else:
                rows.append((minutes, "skipped", a.step, a.repeat, a.reason))
        state = outcome.state
    return rows, outcome


# --- what raises an alert ---------------------------------------------------------------------


def env(**fields: object) -> dict[str, object]:
    return {"school_id": "lhs", "occurred_at": local(23, 10), "actor": ACTOR, **fields}


@pytest.mark.parametrize(
    ("event", "key", "source", "category", "severity", "zone"),
    [
        (
            ConcernRaised.new(
                **env(concern_id=CID, category="bullying", severity="medium", zone_id="gym")
            ),
            f"concern:{CID}",
            AlertSource.CONCERN,
            "bullying",
            Severity.MEDIUM,
            "gym",
        ),
        (
            CheckMissed.new(
                **env(zone_id="cafeteria", window_start=local(23, 11), window_end=local(23, 12))
            ),
            "check_missed:cafeteria:2026-11-23",  # one alert per zone and school day
            AlertSource.CHECK_MISSED,
            "check_missed",
            Severity.LOW,
            "cafeteria",
        ),
        (
            HeartbeatMissed.new(
                **env(device_id="phone-1", officer_id="sso-rivera", silent_minutes=12)
            ),
            "heartbeat_missed:sso-rivera",
            AlertSource.HEARTBEAT_MISSED,
            "heartbeat_missed",
            Severity.HIGH,
            None,
        ),
        (
            ScreeningFlagged.new(
                **env(
                    visit_id=VID,
                    watchlist_entry_id="W-1",
                    score=0.93,
                    decision="yes",
                    decided_by="office-garcia",
                )
            ),
            f"screening_flagged:{VID}",
            AlertSource.SCREENING_FLAGGED,
            "screening_flagged",
            Severity.HIGH,
            None,
        ),
        (
            ScreeningFlagged.new(
                **env(
                    visit_id=VID,
                    watchlist_entry_id="W-1",
                    score=0.8,
                    decision="not_sure",
                    decided_by="office-garcia",
                )
            ),
            f"screening_flagged:{VID}",
            AlertSource.SCREENING_FLAGGED,
            "screening_flagged",
            Severity.MEDIUM,
            None,
        ),
        (
            VisitorOverdue.new(
                **env(visit_id=VID, badge_number="B-12", expected_until=local(23, 9))
            ),
            f"visitor_overdue:{VID}",
            AlertSource.VISITOR_OVERDUE,
            "visitor_overdue",
            Severity.MEDIUM,
            None,
        ),
        (
            VisitorOutOfBounds.new(
                **env(
                    visit_id=VID, badge_number="B-12", zone_id="gym", destination_zones=["library"]
                )
            ),
            f"visitor_out_of_bounds:{VID}",
            AlertSource.VISITOR_OUT_OF_BOUNDS,
            "visitor_out_of_bounds",
            Severity.HIGH,
            "gym",
        ),
        (
            FollowUpMissed.new(
                **env(
                    concern_id=CID, category="self_harm_risk", severity="high", due_at=local(23, 9)
                )
            ),
            f"follow_up_missed:{CID}",
            AlertSource.FOLLOW_UP_MISSED,
            "self_harm_risk",
            Severity.HIGH,
            None,
        ),
    ],
)
def test_each_source_has_its_dedup_key_category_and_severity(
    school: SchoolConfig,
    event: object,
    key: str,
    source: AlertSource,
    category: str,
    severity: Severity,
    zone: str | None,
) -> None:
    seed = domain.seed_for(event, school)  # type: ignore[arg-type]
    assert (seed.dedup_key, seed.source, seed.category, seed.severity, seed.zone_id) == (
        key,
        source,
        category,
        severity,
        zone,
    )


def test_alert_id_is_derived_from_the_opening_event() -> None:
    eid = uuid.UUID("11111111-2222-4333-8444-555555555555")
    assert domain.alert_id_for(eid) == domain.alert_id_for(eid)
    assert domain.alert_id_for(eid) != domain.alert_id_for(CID)


# --- policy choice ------------------------------------------------------------------------------


def seed(
    category: str, severity: Severity, source: AlertSource = AlertSource.CONCERN
) -> domain.AlertSeed:
    return domain.AlertSeed("k", source, category, severity, None, frozenset({category}))


@pytest.mark.parametrize(
    ("category", "severity", "expected"),
    [
        ("weapon", Severity.CRITICAL, "critical"),
        ("self_harm_risk", Severity.CRITICAL, "critical"),  # file order: critical comes first
        ("self_harm_risk", Severity.MEDIUM, "student-wellbeing"),
        ("bullying", Severity.HIGH, "student-wellbeing"),
        ("bullying", Severity.LOW, "default"),
        ("vaping", Severity.MEDIUM, "default"),
        ("check_missed", Severity.LOW, "default"),
    ],
)
def test_first_policy_matching_category_and_severity_wins(
    school: SchoolConfig, category: str, severity: Severity, expected: str
) -> None:
    assert domain.choose_policy(school, seed(category, severity)).name == expected


def test_a_follow_up_is_caught_by_a_policy_for_its_concern_category(school: SchoolConfig) -> None:
    follow_up = domain.AlertSeed(
        "k",
        AlertSource.FOLLOW_UP_MISSED,
        "self_harm_risk",
        Severity.HIGH,
        None,
        frozenset({"follow_up_missed", "self_harm_risk"}),
    )
    assert domain.choose_policy(school, follow_up).name == "student-wellbeing"


def test_no_matching_policy_falls_back_to_sso_then_principal(school: SchoolConfig) -> None:
    bare = school.model_copy(update={"escalation_policies": []})
    chosen = domain.choose_policy(bare, seed("vaping", Severity.LOW))
    assert chosen == domain.FALLBACK_POLICY
    assert [(s.targets, s.delay_minutes) for s in chosen.steps] == [
        (("sso",), 0),
        (("principal",), 15),
    ]


def test_snapshot_round_trips_through_json(school: SchoolConfig) -> None:
    snap = policy(school, "student-wellbeing")
    assert PolicySnapshot.from_json(snap.to_json()) == snap
    assert snap.to_json() == {
        "name": "student-wellbeing",
        "steps": [
            {"targets": ["counselor"], "delay_minutes": 0, "when": "school_hours"},
            {"targets": ["assistant_principal"], "delay_minutes": 15, "when": "always"},
            {"targets": ["principal"], "delay_minutes": 30, "when": "always"},
        ],
        "repeat": 1,
        "ack_timeout_minutes": 60,
    }
    assert snap.repeat_gap == timedelta(minutes=30)


# --- step delays and repeats ----------------------------------------------------------------


def test_default_policy_in_school_hours_fires_each_step_after_its_delay(
    school: SchoolConfig,
) -> None:
    rows, last = drive(school, policy(school, "default"), local(23, 8))
    assert rows == [
        (0, "fired", 0, 0, ("sso-rivera",)),
        (30, "fired", 1, 0, ("ap-chen",)),
        (90, "fired", 2, 0, ("principal-okafor",)),
    ]
    assert last.exhausted
    assert last.state == Escalation(AlertStatus.OPEN, 3, 0, None, RoutingState.EXHAUSTED)


def test_critical_repeats_the_whole_policy_twice_with_its_longest_delay_between_passes(
    school: SchoolConfig,
) -> None:
    rows, last = drive(school, policy(school, "critical"), local(23, 10))
    both = ("sso-rivera", "principal-okafor")
    assert rows == [
        (0, "fired", 0, 0, both),
        (10, "fired", 1, 0, ("district-lee",)),
        (20, "fired", 0, 1, both),
        (30, "fired", 1, 1, ("district-lee",)),
        (40, "fired", 0, 2, both),
        (50, "fired", 1, 2, ("district-lee",)),
    ]
    assert last.exhausted and last.state.next_step_at is None


def test_opening_schedules_step_zero_after_its_delay() -> None:
    snap = PolicySnapshot("p", (StepSnapshot(("sso",), 5, StepWhen.ALWAYS),), 0, 60)
    assert domain.opened(snap, local(23, 10)) == Escalation(
        AlertStatus.OPEN, 0, 0, local(23, 10, 5)
    )


def test_a_step_that_fires_schedules_the_next_one_from_now(school: SchoolConfig) -> None:
    snap = policy(school, "default")
    late = local(23, 8, 7)  # the ticker came 7 minutes late: the next delay counts from now
    out = domain.fire(school, snap, Escalation(AlertStatus.OPEN, 0, 0, local(23, 8)), late)
    assert out.state == Escalation(AlertStatus.OPEN, 1, 0, local(23, 8, 37))


# --- school hours, after hours, duty ------------------------------------------------------------


def test_step_when_follows_the_bell_schedule_and_no_school_days_are_after_hours(
    school: SchoolConfig,
) -> None:
    cases = {
        local(23, 7, 14): (False, True),  # before the first bell (07:15)
        local(23, 7, 15): (True, False),
        local(23, 15, 44): (True, False),
        local(23, 15, 45): (False, True),  # the last period ended
        local(28, 10): (False, True),  # Saturday
        local(26, 10): (False, True),  # Thanksgiving: a no-school day
    }
    for moment, (in_hours, after) in cases.items():
        assert school.step_applies(StepWhen.SCHOOL_HOURS, moment) is in_hours, moment
        assert school.step_applies(StepWhen.AFTER_HOURS, moment) is after, moment
        assert school.step_applies(StepWhen.ALWAYS, moment)


def test_school_hours_use_the_school_timezone_not_utc(school: SchoolConfig) -> None:
    # 13:20 UTC is 07:20 in Chicago: in school hours; in UTC terms it would look like afternoon.
    assert school.step_applies(StepWhen.SCHOOL_HOURS, datetime(2026, 11, 23, 13, 20, tzinfo=UTC))
    assert not school.step_applies(
        StepWhen.SCHOOL_HOURS, datetime(2026, 11, 23, 13, 10, tzinfo=UTC)
    )


def test_off_duty_targets_are_skipped_not_waited_on(school: SchoolConfig) -> None:
    # 17:00 Monday: the SSO's duty ended at 16:00, the AP's runs to 17:30.
    rows, last = drive(school, policy(school, "default"), local(23, 17))
    assert rows == [
        (0, "skipped", 0, 0, "every target off duty: sso-rivera"),
        (0, "fired", 1, 0, ("ap-chen",)),
        (60, "skipped", 2, 0, "applies only school hours"),
    ]
    assert last.exhausted


def test_after_hours_a_school_hours_step_is_skipped_and_the_escalation_goes_on(
    school: SchoolConfig,
) -> None:
    rows, last = drive(school, policy(school, "student-wellbeing"), local(23, 20))
    assert rows == [
        (0, "skipped", 0, 0, "applies only school hours"),
        (0, "skipped", 1, 0, "every target off duty: ap-chen"),
        (0, "fired", 2, 0, ("principal-okafor",)),
        (30, "skipped", 0, 1, "applies only school hours"),
        (30, "skipped", 1, 1, "every target off duty: ap-chen"),
        (30, "fired", 2, 1, ("principal-okafor",)),
    ]
    assert last.exhausted


def test_on_a_no_school_day_only_on_call_staff_are_on_duty(school: SchoolConfig) -> None:
    rows, _ = drive(school, policy(school, "critical"), local(26, 10))  # Thanksgiving
    off = "every target off duty: sso-rivera, principal-okafor"
    assert rows == [
        (0, "skipped", 0, 0, off),
        (0, "fired", 1, 0, ("district-lee",)),
        (10, "skipped", 0, 1, off),
        (10, "fired", 1, 1, ("district-lee",)),
        (20, "skipped", 0, 2, off),
        (20, "fired", 1, 2, ("district-lee",)),
    ]


def test_only_the_on_duty_targets_of_a_step_are_notified(school: SchoolConfig) -> None:
    # Monday 21:00: the principal (no duty hours) is on duty, the SSO is not.
    out = domain.fire(
        school,
        policy(school, "critical"),
        domain.opened(policy(school, "critical"), local(23, 21)),
        local(23, 21),
    )
    (fired,) = out.actions
    assert isinstance(fired, Fired)
    assert [p.id for p in fired.notified] == ["principal-okafor"]
    assert fired.off_duty == ("sso-rivera",)


def test_when_nobody_can_be_reached_the_alert_is_held_until_someone_comes_on_duty(
    school: SchoolConfig,
) -> None:
    snap = policy(school, "default")
    saturday = local(28, 10)
    out = domain.fire(school, snap, domain.opened(snap, saturday), saturday)
    assert [(a.step, a.reason) for a in out.actions if isinstance(a, Skipped)] == [
        (0, "every target off duty: sso-rivera"),
        (1, "every target off duty: ap-chen"),
        (2, "applies only school hours"),
    ]
    # A low alert is held, and looked at again at least daily: Sunday 10:00 first.
    sunday_1000 = local(29, 10)
    assert out.held_until == sunday_1000
    assert out.state == Escalation(AlertStatus.OPEN, 0, 0, sunday_1000, RoutingState.HELD)
    assert not out.exhausted
    again = domain.fire(school, snap, out.state, sunday_1000)
    monday_0645 = local(30, 6, 45)  # the AP's duty starts; the SSO's only at 07:00
    assert again.held_until == monday_0645
    assert again.state == Escalation(AlertStatus.OPEN, 0, 0, monday_0645, RoutingState.HELD)

    resumed = domain.fire(school, snap, again.state, monday_0645)
    assert [(type(a).__name__, a.step) for a in resumed.actions] == [("Skipped", 0), ("Fired", 1)]
    assert resumed.state == Escalation(AlertStatus.OPEN, 2, 0, local(30, 7, 45))


def test_a_policy_whose_targets_nobody_holds_is_unroutable(school: SchoolConfig) -> None:
    nobody = school.model_copy(
        update={"people": [p for p in school.people if p.id != "counselor-patel"]}
    )
    snap = PolicySnapshot("p", (StepSnapshot(("counselor",), 0, StepWhen.ALWAYS),), 0, 60)
    out = domain.fire(nobody, snap, domain.opened(snap, local(23, 10)), local(23, 10))
    assert [a.reason for a in out.actions if isinstance(a, Skipped)] == ["no one holds counselor"]
    # Never left without a timer: looked at again a day later.
    assert out.unroutable and out.held_until == local(24, 10)
    assert out.state == Escalation(AlertStatus.OPEN, 0, 0, local(24, 10), RoutingState.UNROUTABLE)


# --- acknowledge, re-trigger, resolve ------------------------------------------------------------


def test_ack_stops_escalation_until_the_ack_timeout(school: SchoolConfig) -> None:
    snap = policy(school, "default")
    state = Escalation(AlertStatus.OPEN, 1, 0, local(23, 10, 30))
    acked = domain.acknowledge(snap, state, local(23, 10, 5))
    assert acked == Escalation(
        AlertStatus.ACKNOWLEDGED, 1, 0, local(23, 12, 5), RoutingState.ACKNOWLEDGED
    )  # 120 min


def test_ack_timeout_retriggers_from_step_zero(school: SchoolConfig) -> None:
    snap = policy(school, "default")
    acked = Escalation(AlertStatus.ACKNOWLEDGED, 2, 0, local(23, 12, 5))
    out = domain.fire(school, snap, acked, local(23, 12, 5))
    assert out.retriggered
    assert [(type(a).__name__, a.step, a.repeat) for a in out.actions] == [("Fired", 0, 0)]
    assert out.state == Escalation(AlertStatus.OPEN, 1, 0, local(23, 12, 35))


def test_resolve_needs_an_outcome_note_and_stops_everything() -> None:
    state = Escalation(AlertStatus.ACKNOWLEDGED, 1, 0, local(23, 12))
    for blank in ("", "   \n"):
        with pytest.raises(Refusal, match="needs an outcome note"):
            domain.resolve(state, blank)
    assert domain.resolve(state, "spoke with family") == Escalation(
        AlertStatus.RESOLVED, 1, 0, None, RoutingState.RESOLVED
    )


def test_a_resolved_alert_refuses_ack_and_resolve_and_never_fires(school: SchoolConfig) -> None:
    snap = policy(school, "default")
    done = Escalation(AlertStatus.RESOLVED, 1, 0, None)
    with pytest.raises(Refusal, match="already resolved"):
        domain.acknowledge(snap, done, local(23, 12))
    with pytest.raises(Refusal, match="already resolved"):
        domain.resolve(done, "again")
    out = domain.fire(school, snap, done, local(23, 12))
    assert out.actions == () and out.state.next_step_at is None


# --- email --------------------------------------------------------------------------------------


def test_email_names_the_alert_place_and_how_to_ack_and_nothing_about_students(
    school: SchoolConfig,
) -> None:
    aid = uuid.UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
    facts = AlertFacts(
        aid, AlertSource.CONCERN, "self_harm_risk", Severity.HIGH, "bath-1n-boys", 2, local(23, 10)
    )
    snap = policy(school, "student-wellbeing")
    person = next(p for p in school.people if p.id == "counselor-patel")
    subject, body = domain.render_email(school, facts, person, Fired(0, 0, (person,), ()), snap)
    assert subject == "[Lookout] HIGH alert: self harm risk at 1st floor north boys' bathroom"
    assert body == (
        "Lakeside High School: an alert needs your attention.\n"
        "\n"
        f"Alert:     {aid}\n"
        "What:      self harm risk (concern)\n"
        "Severity:  high\n"
        "Where:     1st floor north boys' bathroom\n"
        "Opened:    Mon 23 Nov 2026 10:00 CST\n"
        "Reports:   2\n"
        "Escalation step 1 of 3, pass 1 of 2 (student-wellbeing policy).\n"
        "\n"
        "Acknowledge it in the Lookout client, or on the command line:\n"
        f"  lookout alerts ack {aid} --by counselor-patel\n"
        "Resolve it with an outcome note once handled:\n"
        f'  lookout alerts resolve {aid} --by counselor-patel --note "..."\n'
        "\n"
        "Details about students are never sent by email; see them in the Lookout client.\n"
    )


def test_email_with_an_ack_link_puts_it_before_the_command_line(school: SchoolConfig) -> None:
    aid = uuid.UUID("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
    facts = AlertFacts(
        aid, AlertSource.CONCERN, "weapon_suspected", Severity.CRITICAL, "gym", 1, local(23, 8)
    )
    snap = policy(school, "critical")
    person = next(p for p in school.people if p.id == "principal-okafor")
    url = "https://lookout.test/ack/LA1.bGhz.bWFj"
    _, body = domain.render_email(school, facts, person, Fired(0, 0, (person,), ()), snap, url)
    assert body == (
        "Lakeside High School: an alert needs your attention.\n"
        "\n"
        f"Alert:     {aid}\n"
        "What:      weapon suspected (concern)\n"
        "Severity:  critical\n"
        "Where:     Gymnasium\n"
        "Opened:    Mon 23 Nov 2026 08:00 CST\n"
        "Reports:   1\n"
        "Escalation step 1 of 2, pass 1 of 3 (critical policy).\n"
        "\n"
        "Acknowledge it here (the page asks you to confirm):\n"
        "  https://lookout.test/ack/LA1.bGhz.bWFj\n"
        "Or on the command line:\n"
        f"  lookout alerts ack {aid} --by principal-okafor\n"
        "Resolve it with an outcome note once handled:\n"
        f'  lookout alerts resolve {aid} --by principal-okafor --note "..."\n'
        "\n"
        "Details about students are never sent by email; see them in the Lookout client.\n"
    )


def test_digest_lists_each_alert_with_its_ack_link() -> None:
    subject, body = domain.render_digest(
        "Lakeside High School",
        [("a1", "[Lookout] LOW alert: check missed"), ("a2", "[Lookout] MEDIUM alert: bullying")],
        {"a1": "https://lookout.test/ack/T1", "a2": "https://lookout.test/ack/T2"},
    )
    assert subject == "[Lookout] 2 alerts held back by your email limit"
    assert body == (
        "Lakeside High School: these alerts reached you while more emails than your limit had "
        "been\n"
        "sent in a short time. Each is still open until someone acknowledges or resolves it.\n"
        "\n"
        "- [Lookout] LOW alert: check missed (alert a1)\n"
        "  Acknowledge: https://lookout.test/ack/T1\n"
        "- [Lookout] MEDIUM alert: bullying (alert a2)\n"
        "  Acknowledge: https://lookout.test/ack/T2\n"
        "\n"
        "Acknowledge them with their links (each page asks you to confirm), or: "
        "lookout alerts ack <alert> --by <you>\n"
        "Details about students are never sent by email; see them in the Lookout client.\n"
    )


def test_rate_limit_spares_high_and_critical_alerts() -> None:
    assert not domain.is_rate_limited(Severity.MEDIUM, 5, 6)
    assert domain.is_rate_limited(Severity.MEDIUM, 6, 6)
    assert domain.is_rate_limited(Severity.LOW, 7, 6)
    assert not domain.is_rate_limited(Severity.HIGH, 6, 6)
    assert not domain.is_rate_limited(Severity.CRITICAL, 60, 6)


def test_email_retry_delays_grow() -> None:
    assert [domain.email_retry_delay(n) for n in (1, 2, 3)] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=25),
    ]


def test_policy_config_changes_do_not_touch_a_snapshot(school: SchoolConfig) -> None:
    snap = policy(school, "default")
    edited = EscalationPolicyConfig(
        name="default", categories=["*"], steps=[{"targets": ["principal"], "delay_minutes": 0}]
    )
    assert PolicySnapshot.of(edited) != snap
    assert snap.steps[0].targets == ("sso",)


# --- a concern's severity changes ---------------------------------------------------------------


def _facts(severity: Severity, category: str = "conflict") -> AlertFacts:
    return AlertFacts(uuid.uuid4(), AlertSource.CONCERN, category, severity, "gym", 1, local(23, 9))


@pytest.mark.parametrize(
    ("old", "new", "policy_name"),
    [
        ("low", "medium", "default"),  # a higher severity, same policy: still starts over
        ("medium", "critical", "critical"),
        ("high", "critical", "critical"),
    ],
)
def test_a_raised_severity_reroutes_from_the_first_step_now(
    school: SchoolConfig, old: str, new: str, policy_name: str
) -> None:
    now = local(23, 10, 5)
    acked = Escalation(AlertStatus.ACKNOWLEDGED, 1, 0, now + timedelta(minutes=50))
    reroute = domain.severity_changed(school, _facts(Severity(old)), acked, Severity(new), now)
    assert reroute == domain.Reroute(
        policy(school, policy_name), Escalation(AlertStatus.OPEN, 0, 0, now)
    )


@pytest.mark.parametrize(("old", "new"), [("critical", "high"), ("medium", "low"), ("low", "low")])
def test_a_lowered_or_unchanged_severity_does_not_reroute(
    school: SchoolConfig, old: str, new: str
) -> None:
    state = Escalation(AlertStatus.OPEN, 1, 0, local(23, 10, 30))
    now = local(23, 10, 5)
    assert domain.severity_changed(school, _facts(Severity(old)), state, Severity(new), now) is None


def test_a_resolved_alert_is_not_rerouted(school: SchoolConfig) -> None:
    state = Escalation(AlertStatus.RESOLVED, 1, 0, None)
    now = local(23, 10, 5)
    facts = _facts(Severity.LOW)
    assert domain.severity_changed(school, facts, state, Severity.CRITICAL, now) is None


def test_wellbeing_categories_reroute_to_their_own_policy(school: SchoolConfig) -> None:
    now = local(23, 10, 5)
    state = Escalation(AlertStatus.OPEN, 1, 0, local(23, 10, 30))
    facts = _facts(Severity.LOW, "emotional_distress")
    reroute = domain.severity_changed(school, facts, state, Severity.MEDIUM, now)
    assert reroute is not None and reroute.policy == policy(school, "student-wellbeing")
