"""The simulation plan: pure, seeded and reproducible, and shaped like a school week."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from functools import cache
from itertools import pairwise

import pytest

from lookout.contracts.patrol import (
    CheckpointScanned,
    ConcernRaised,
    ConcernResolved,
    ContactLogged,
    DeviceHeartbeat,
    ObservationCategory,
    ObservationLogged,
)
from lookout.contracts.visitors import ScreeningAnswer
from lookout.kernel.clock import ManualClock
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings
from lookout.school.config import SchoolConfig
from lookout.simulation import plan as sim
from lookout.simulation.inputs import plan_for
from lookout.simulation.people import read_watchlist
from lookout.simulation.truth import TruthRecorder
from services.visitors.matching import Listed, Person, score_all

FULL_WEEK = date(2026, 11, 30)  # Monday, five school days
THANKSGIVING = date(2026, 11, 23)  # Monday; Thursday and Friday are no-school days
SEEDS = range(1, 9)
WATCHLIST = read_watchlist(EXAMPLE_SCHOOL.parent / "lhs-watchlist.csv")


@cache
def week(seed: int, start: date = FULL_WEEK, sso: int = 1) -> sim.Plan:
    from lookout.kernel.settings import load_school

    return sim.build_plan(
        load_school(EXAMPLE_SCHOOL), seed=seed, start=start, days=5, sso=sso, watchlist=WATCHLIST
    )


def events(plan: sim.Plan, model: type) -> list:
    return [
        a.event for a in plan.actions if isinstance(a, sim.Publish) and isinstance(a.event, model)
    ]


def local_day(school: SchoolConfig, moment: datetime) -> date:
    return moment.astimezone(school.tz).date()


def test_same_seed_same_plan_and_different_seed_different_plan() -> None:
    first = week(7)
    again = week.__wrapped__(7)  # built anew, not the cached object
    assert again is not first
    assert again == first
    other = week.__wrapped__(8)
    assert other != first
    assert [a.at for a in other.actions] != [a.at for a in first.actions]
    assert {e.event_id for e in events(other, DeviceHeartbeat)}.isdisjoint(
        e.event_id for e in events(first, DeviceHeartbeat)
    )


def test_plan_for_reads_the_school_file_watchlist_and_patrol_seed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, patrol_seed="s3cret")
    made = plan_for(settings, seed=3, start=FULL_WEEK, days=5)
    assert made == sim.build_plan(
        made_school(), seed=3, start=FULL_WEEK, days=5, patrol_seed="s3cret", watchlist=WATCHLIST
    )
    assert made != plan_for(Settings(data_dir=tmp_path), seed=3, start=FULL_WEEK, days=5)


def made_school() -> SchoolConfig:
    from lookout.kernel.settings import load_school

    return load_school(EXAMPLE_SCHOOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_counts_per_school_day_are_in_range(school: SchoolConfig, seed: int) -> None:
    plan = week(seed)
    assert plan.school_days == tuple(FULL_WEEK + timedelta(days=i) for i in range(5))
    counts = plan.day_counts()
    assert sorted(counts) == list(plan.school_days)
    for day, c in counts.items():
        assert c["device.heartbeat"] == 108, day  # 06:55 to 15:50 every 5 minutes
        assert c["windows"] == 86
        assert 1 <= c["windows_late"] <= 2
        assert 1 <= c["windows_missed"] <= 2
        assert c["windows_checked"] == 86 - c["windows_late"] - c["windows_missed"]
        assert 2 <= c["concern_vaping"] <= 4
        assert 18 <= c["visitors.sign_in"] <= 22
        assert c["visit_overdue"] == 1
        assert c["visit_out_of_bounds"] == 1
        assert c["visitors.sign_out"] == c["visitors.sign_in"] - c["visit_watchlist"]
        assert c["concerns_open"] >= 1 and c["concerns_resolved"] >= 1
    by_day = Counter(local_day(school, e.occurred_at) for e in events(plan, ObservationLogged))
    assert all(1 <= by_day[d] <= 4 for d in plan.school_days)
    positive = Counter(
        local_day(school, e.occurred_at)
        for e in events(plan, ContactLogged)
        if e.concern_id is None
    )
    assert all(8 <= positive[d] <= 14 for d in plan.school_days)
    stories = Counter(c.story for c in plan.concerns)
    assert stories["distress"] == 1
    assert stories["conflict"] == 2  # two lunch-time conflicts in five days


@pytest.mark.parametrize("seed", SEEDS)
def test_one_watchlist_match_in_the_week_answered_yes(seed: int) -> None:
    plan = week(seed)
    matched = [v for v in plan.visits if v.scenario == "watchlist"]
    assert len(matched) == 1
    (visit,) = matched
    assert visit.signed_out_at is None and visit.sightings == ()
    entry = next(p for p in WATCHLIST if p.entry_id == visit.watchlist_entry_id)
    assert visit.name == f"{entry.first_name} {entry.last_name}"
    answers = [a for a in plan.actions if isinstance(a, sim.AnswerScreening)]
    assert [(a.visit, a.watchlist_entry_id, a.answer) for a in answers] == [
        (visit.key, entry.entry_id, ScreeningAnswer.YES)
    ]
    assert answers[0].at > visit.signed_in_at
    assert answers[0].decided_by == "ap-chen"


@pytest.mark.parametrize("seed", SEEDS)
def test_only_the_staged_visitor_matches_the_watchlist(seed: int) -> None:
    """Screened with the visitors service's own matcher, as the service would."""
    listed = [
        Listed(p.entry_id, Person.of(p.first_name, p.last_name, p.date_of_birth)) for p in WATCHLIST
    ]
    sign_ins = [a for a in week(seed).actions if isinstance(a, sim.SignInVisitor)]
    held = [
        a.visit
        for a in sign_ins
        if score_all(
            Person.of(a.request.first_name, a.request.last_name, a.request.date_of_birth),
            listed,
            0.85,
        )
    ]
    staged = [v.key for v in week(seed).visits if v.scenario == "watchlist"]
    assert held == staged


@pytest.mark.parametrize("seed", SEEDS)
def test_overdue_and_out_of_bounds_visitors(school: SchoolConfig, seed: int) -> None:
    plan = week(seed)
    grace = timedelta(minutes=school.visitors.overdue_grace_minutes)
    allowed_always = set(school.visitors.always_allowed_zones)
    for v in plan.visits:
        if v.scenario == "watchlist":
            continue
        assert v.signed_out_at is not None
        expected_end = v.signed_in_at + timedelta(minutes=v.expected_minutes)
        if v.scenario == "overdue":
            assert v.overdue_at == expected_end + grace
            assert v.signed_out_at > v.overdue_at + timedelta(minutes=15)
        else:
            assert v.signed_out_at < expected_end  # never overdue
        for s in v.sightings:
            assert v.signed_in_at + timedelta(minutes=3) <= s.at < v.signed_out_at
            outside = s.zone_id not in set(v.destination_zones) | allowed_always
            assert s.out_of_bounds == outside
            assert outside == (v.scenario == "out_of_bounds")
        if v.scenario == "out_of_bounds":
            assert [s.out_of_bounds for s in v.sightings] == [True]


@pytest.mark.parametrize("seed", SEEDS)
def test_vaping_is_concentrated_in_two_bathrooms_at_hot_passing_periods(
    school: SchoolConfig, seed: int
) -> None:
    plan = week(seed)
    kinds = {z.id: z.kind.value for z in school.zones}
    assert len(set(plan.hotspot_zones)) == 2
    assert {kinds[z] for z in plan.hotspot_zones} == {"bathroom"}
    assert len(plan.hot_periods) == 2
    vaping = [c for c in plan.concerns if c.story == "vaping"]
    vaping_obs = [
        e for e in events(plan, ObservationLogged) if e.category is ObservationCategory.VAPING
    ]
    assert {c.zone_id for c in vaping} | {o.zone_id for o in vaping_obs} <= set(plan.hotspot_zones)
    periods = [c.period for c in vaping] + [
        school.period_at(o.occurred_at).name
        for o in vaping_obs  # type: ignore[union-attr]
    ]
    assert all(p in {*plan.hot_periods, "lunch-a", "lunch-b"} for p in periods)
    assert sum(p in plan.hot_periods for p in periods) >= len(periods) // 2
    assert len(periods) >= 15


@pytest.mark.parametrize("seed", SEEDS)
def test_every_action_is_inside_a_school_day(school: SchoolConfig, seed: int) -> None:
    plan = week(seed, THANKSGIVING)
    assert plan.school_days == (date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25))
    assert plan.closed_days == (date(2026, 11, 26), date(2026, 11, 27))
    for a in plan.actions:
        day = local_day(school, a.at)
        assert day in plan.school_days
        first, last = school.school_hours(day)  # type: ignore[misc]
        assert first - timedelta(minutes=20) <= a.at <= last + timedelta(minutes=5), a
        if isinstance(a, sim.Publish):
            assert a.event.occurred_at == a.at
            assert a.event.school_id == "lhs"
    assert [a.at for a in plan.actions] == sorted(a.at for a in plan.actions)


def test_heartbeats_leave_no_silence_in_school_hours(school: SchoolConfig) -> None:
    plan = week(2, sso=2)
    limit = timedelta(minutes=school.heartbeat_limit_minutes)
    assert [o.device_id for o in plan.officers] == ["phone-rivera", "phone-sim-2"]
    for officer in plan.officers:
        beats = [
            e.occurred_at
            for e in events(plan, DeviceHeartbeat)
            if e.officer_id == officer.officer_id
        ]
        for day in plan.school_days:
            first, last = school.school_hours(day)  # type: ignore[misc]
            today = [b for b in beats if local_day(school, b) == day]
            assert today[0] + limit <= first
            assert today[-1] + limit >= last
            assert all(b - a < limit for a, b in pairwise(today))


@pytest.mark.parametrize("seed", SEEDS)
def test_students_are_opaque_references(seed: int) -> None:
    plan = week(seed)
    refs = [
        r for e in events(plan, ConcernRaised) + events(plan, ContactLogged) for r in e.student_refs
    ]
    assert len(refs) > 50
    assert all(re.fullmatch(r"S-\d{4}", r) and 1001 <= int(r[2:]) <= 1912 for r in refs)
    assert plan.student_count == 912


@pytest.mark.parametrize("seed", SEEDS)
def test_distress_gets_a_welfare_follow_up_the_next_school_day(
    school: SchoolConfig, seed: int
) -> None:
    plan = week(seed)
    (distress,) = [c for c in plan.concerns if c.story == "distress"]
    assert distress.follow_up_in_school_days == 1 and distress.resolved_at is not None
    (follow_up,) = plan.follow_ups
    resolved_day = local_day(school, distress.resolved_at)
    assert follow_up.due_day == resolved_day + timedelta(days=1)  # never the Friday
    recheck = next(
        e for e in events(plan, ContactLogged) if e.event_id == follow_up.recheck_event_id
    )
    assert recheck.concern_id == distress.concern_id
    assert tuple(recheck.student_refs) == distress.student_refs
    assert local_day(school, recheck.occurred_at) == follow_up.due_day
    resolved = [e for e in events(plan, ConcernResolved) if e.concern_id == distress.concern_id]
    assert [e.follow_up_in_school_days for e in resolved] == [1]


@pytest.mark.parametrize("seed", SEEDS)
def test_late_and_skipped_windows_are_what_the_scans_say(seed: int) -> None:
    plan = week(seed)
    scans: dict[str, list[datetime]] = {}
    for e in events(plan, CheckpointScanned):
        scans.setdefault(e.zone_id, []).append(e.occurred_at)
    for w in plan.windows:
        expected = {"checked": "checked", "late": "late", "skipped": "missed"}[w.intent]
        assert w.expected == expected
        inside = [t for t in scans.get(w.window.zone_id, []) if w.window.start <= t <= w.window.end]
        grace = [
            t for t in scans.get(w.window.zone_id, []) if w.window.end < t <= w.window.deadline
        ]
        if w.intent == "checked":
            assert inside  # a scan in the grace may be for the zone's next window
        else:
            assert (bool(inside), bool(grace)) == (False, w.intent == "late")


def test_a_slice_keeps_what_begins_inside_it(school: SchoolConfig) -> None:
    plan = week(4)
    monday = plan.school_days[0]
    start = datetime.combine(monday, datetime.min.time(), tzinfo=school.tz)
    end = datetime.combine(monday, datetime.strptime("11:00", "%H:%M").time(), tzinfo=school.tz)
    part = plan.slice(start, end)
    assert part.school_days == (monday,)
    assert part.actions and all(start <= a.at < end for a in part.actions)
    assert all(start <= w.window.start and w.window.deadline < end for w in part.windows)
    assert all(start <= v.signed_in_at < end for v in part.visits)
    assert all(v.signed_out_at is None or v.signed_out_at < end for v in part.visits)
    keys = {v.key for v in part.visits}
    visit_actions = [a for a in part.actions if hasattr(a, "visit")]
    assert {a.visit for a in visit_actions} <= keys  # type: ignore[union-attr]
    raised = {c.concern_id for c in part.concerns}
    assert {e.concern_id for e in events(part, ConcernResolved)} <= raised
    assert part.slice(start, end) == part


def test_the_truth_of_a_plan_carries_no_id_digits_or_birth_dates() -> None:
    plan = week(5)
    truth = TruthRecorder(plan, "asap", ManualClock(plan.begins_at)).truth()
    text = json.dumps(truth)
    sign_ins = [a.request for a in plan.actions if isinstance(a, sim.SignInVisitor)]
    assert "id_last4" not in text and "date_of_birth" not in text
    assert not [
        r.date_of_birth for r in sign_ins if r.date_of_birth and r.date_of_birth.isoformat() in text
    ]
    assert len(truth["visits"]) == len(sign_ins)
    assert truth["expected"]["windows_missed"] == sum(w.expected == "missed" for w in plan.windows)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days: between 1 and 28, not 0"),
        ({"days": 29}, "days: between 1 and 28, not 29"),
        ({"sso": 3}, "sso: 1 or 2 officers, not 3"),
        (
            {"start": date(2026, 11, 28), "days": 2},
            "start/days: no school day from 2026-11-28 for 2 day(s) at 'lhs'",
        ),
    ],
)
def test_bad_inputs_are_one_line_errors(school: SchoolConfig, kwargs: dict, message: str) -> None:
    args = {"seed": 1, "start": FULL_WEEK} | kwargs
    with pytest.raises(sim.PlanError) as caught:
        sim.build_plan(school, **args)
    assert str(caught.value) == message
