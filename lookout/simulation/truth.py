"""The ground truth of a simulation run: what the plan meant to happen and what the runner did,
as one JSON document an end-to-end test compares every service's store against.

Privacy: visitor names appear (the visitors service stores them and its roster shows them), but
never ID digits or dates of birth; students appear only as their opaque references.

Shape (every time is ISO 8601 in UTC):
- `format`, `complete` (false when the run stopped early), `seed`, `school_id`, `timezone`,
  `start`, `days`, `school_days`, `closed_days`, `begins_at`, `ends_at`, `officers`,
  `students` {count, first, last}, `hotspots` {zones, periods};
- `run`: pace, wall and clock times at start and finish, actions planned / done;
- `summary`: counts (events by type, sign-ins by status, sign-outs, screenings, sightings,
  windows by expected outcome, concerns raised / resolved / open, errors);
- `expected`: what the services should have made of it — overdue, out-of-bounds and flagged
  visit keys, open and resolved concern ids, window outcomes by count;
- `events`: every event published (event_id, type, subject, stream, seq, duplicate,
  occurred_at, published_at: the clock when it went out, zone_id and officer_id when the event
  has them);
- `windows`: every check window judged in the plan (zone, start, end, deadline, period,
  unannounced, officer, intent checked|late|skipped, expected_outcome checked|late|missed);
- `concerns`: story, category, severity, zone, period, student refs, who, raised/resolved
  times and event ids, status open|resolved, outcome, follow-up school days;
- `follow_ups`: concern, due day, the re-check contact (time, event id) or null;
- `visits`: key, day, scenario, type, host, destinations, expected minutes, name, request id,
  planned sign-in/out times, the service's visit id, badge, status and expected_until, the
  screening answer, sightings (event id, zone, time, out_of_bounds), expect_overdue,
  expect_out_of_bounds, expect_flagged;
- `errors`: actions refused or skipped (index, kind, time, reason).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from lookout.contracts.envelope import Event
from lookout.contracts.visitors import VisitReply
from lookout.kernel.clock import Clock
from lookout.simulation.plan import (
    Action,
    AnswerScreening,
    Plan,
    SightVisitor,
    SignInVisitor,
    SignOutVisitor,
    TimerCheck,
    VisitStory,
    action_kind,
)

FORMAT = "lookout-simulation-truth/1"


def _t(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _d(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


class TruthRecorder:
    def __init__(self, plan: Plan, pace: str, clock: Clock) -> None:
        self.plan = plan
        self.pace = pace
        self.clock = clock
        self.complete = False
        self.started_wall = datetime.now(UTC)
        self.clock_started = clock.now()
        self.finished_wall: datetime | None = None
        self.clock_finished: datetime | None = None
        self.events: list[dict[str, Any]] = []
        self.published_ids: set[str] = set()
        self.errors: list[dict[str, Any]] = []
        self.actions_done = 0
        self.visits: dict[str, dict[str, Any]] = {v.key: _visit(v) for v in plan.visits}

    # --- what the runner reports ------------------------------------------------------------

    def published(
        self,
        event: Event,
        subject: str,
        stream: str,
        seq: int,
        duplicate: bool,
        done_at: datetime,
    ) -> None:
        self.actions_done += 1
        self.published_ids.add(str(event.event_id))
        self.events.append(
            {
                "event_id": str(event.event_id),
                "type": event.type,
                "subject": subject,
                "stream": stream,
                "seq": seq,
                "duplicate": duplicate,
                "occurred_at": _t(event.occurred_at),
                "published_at": _t(done_at),
                # Where and whose (scans, heartbeats, concerns): ids only, never student data.
                "zone_id": getattr(event, "zone_id", None),
                "officer_id": getattr(event, "officer_id", None),
            }
        )

    def sighted(self, action: SightVisitor, event_id: Any, done_at: datetime) -> None:
        for s in self.visits[action.visit]["sightings"]:
            if s["event_id"] == str(event_id):
                s["published"] = True

    def signed_in(self, action: SignInVisitor, reply: VisitReply, done_at: datetime) -> None:
        self.actions_done += 1
        v = self.visits[action.visit]
        v.update(
            visit_id=str(reply.visit_id),
            badge_number=reply.badge_number,
            status=reply.status.value,
            status_after_sign_in=reply.status.value,
            expected_until=_t(reply.expected_until),
            possible_matches=[m.watchlist_entry_id for m in reply.possible_matches],
            signed_in_done_at=_t(done_at),
        )

    def screened(
        self, action: AnswerScreening, status: str, badge: str | None, done_at: datetime
    ) -> None:
        self.actions_done += 1
        v = self.visits[action.visit]
        v["status"] = status
        v["badge_number"] = badge
        v["screening"] = {
            "watchlist_entry_id": action.watchlist_entry_id,
            "answer": action.answer.value,
            "decided_by": action.decided_by,
            "at": _t(action.at),
            "done_at": _t(done_at),
            "status_after": status,
        }

    def signed_out(self, action: SignOutVisitor, reply: VisitReply, done_at: datetime) -> None:
        self.actions_done += 1
        v = self.visits[action.visit]
        v["status"] = reply.status.value
        v["checked_out_at"] = _t(reply.checked_out_at)
        v["signed_out_done_at"] = _t(done_at)

    def error(self, index: int, action: Action, reason: str, done_at: datetime) -> None:
        self.errors.append(
            {
                "index": index,
                "kind": action_kind(action),
                "at": _t(action.at),
                "done_at": _t(done_at),
                "visit": getattr(action, "visit", None),
                "error": reason,
            }
        )

    def finish(self) -> None:
        self.finished_wall = datetime.now(UTC)
        self.clock_finished = self.clock.now()

    # --- the document -----------------------------------------------------------------------

    def truth(self) -> dict[str, Any]:
        plan = self.plan
        concerns = [self._concern(c) for c in plan.concerns]
        windows = [
            {
                "zone_id": w.window.zone_id,
                "window_start": _t(w.window.start),
                "window_end": _t(w.window.end),
                "deadline": _t(w.window.deadline),
                "period": w.window.period,
                "unannounced": w.window.unannounced,
                "officer_id": w.officer_id,
                "intent": w.intent,
                "expected_outcome": w.expected,
            }
            for w in plan.windows
        ]
        visits = list(self.visits.values())
        by_type = Counter(e["type"] for e in self.events)
        statuses = Counter(v["status_after_sign_in"] for v in visits if v["visit_id"])
        outcomes = Counter(w["expected_outcome"] for w in windows)
        open_ids = [c["concern_id"] for c in concerns if c["raised"] and c["status"] == "open"]
        resolved_ids = [c["concern_id"] for c in concerns if c["status"] == "resolved"]
        return {
            "format": FORMAT,
            "complete": self.complete,
            "seed": plan.seed,
            "school_id": plan.school_id,
            "timezone": plan.timezone,
            "start": _d(plan.start),
            "days": plan.days,
            "school_days": [_d(d) for d in plan.school_days],
            "closed_days": [_d(d) for d in plan.closed_days],
            "begins_at": _t(plan.begins_at),
            "ends_at": _t(plan.ends_at),
            "officers": [
                {
                    "officer_id": o.officer_id,
                    "device_id": o.device_id,
                    "in_school_file": o.in_school_file,
                }
                for o in plan.officers
            ],
            "students": {
                "count": plan.student_count,
                "first": "S-1001",
                "last": f"S-{1000 + plan.student_count}",
            },
            "hotspots": {"zones": list(plan.hotspot_zones), "periods": list(plan.hot_periods)},
            "run": {
                "pace": self.pace,
                "started_at": _t(self.started_wall),
                "finished_at": _t(self.finished_wall),
                "clock_started_at": _t(self.clock_started),
                "clock_finished_at": _t(self.clock_finished),
                "actions_planned": sum(not isinstance(a, TimerCheck) for a in plan.actions),
                "actions_done": self.actions_done,
            },
            "summary": {
                "events_by_type": dict(sorted(by_type.items())),
                "events": len(self.events),
                "sign_ins": sum(1 for v in visits if v["visit_id"]),
                "sign_ins_by_status": dict(sorted(statuses.items())),
                "sign_outs": sum(1 for v in visits if v["checked_out_at"]),
                "screenings": sum(1 for v in visits if v["screening"]),
                "sightings": by_type.get("visitor.sighted", 0),
                "out_of_bounds_sightings": sum(
                    1
                    for v in visits
                    for s in v["sightings"]
                    if s["out_of_bounds"] and s["published"]
                ),
                "windows": dict(sorted(outcomes.items())),
                "windows_skipped": sum(1 for w in windows if w["intent"] == "skipped"),
                "windows_late": sum(1 for w in windows if w["intent"] == "late"),
                "concerns_raised": sum(1 for c in concerns if c["raised"]),
                "concerns_resolved": len(resolved_ids),
                "concerns_open": len(open_ids),
                "errors": len(self.errors),
            },
            "expected": {
                "overdue_visits": [v["key"] for v in visits if v["expect_overdue"]],
                "out_of_bounds_visits": [v["key"] for v in visits if v["expect_out_of_bounds"]],
                "flagged_visits": [v["key"] for v in visits if v["expect_flagged"]],
                "open_concerns": open_ids,
                "resolved_concerns": resolved_ids,
                "windows_checked": outcomes.get("checked", 0),
                "windows_late": outcomes.get("late", 0),
                "windows_missed": outcomes.get("missed", 0),
            },
            "events": self.events,
            "windows": windows,
            "concerns": concerns,
            "follow_ups": [
                {
                    "concern_id": str(f.concern_id),
                    "due_day": _d(f.due_day),
                    "recheck_at": _t(f.recheck_at),
                    "recheck_event_id": str(f.recheck_event_id) if f.recheck_event_id else None,
                    "recheck_published": bool(
                        f.recheck_event_id and str(f.recheck_event_id) in self.published_ids
                    ),
                }
                for f in plan.follow_ups
            ],
            "visits": visits,
            "errors": self.errors,
        }

    def _concern(self, c: Any) -> dict[str, Any]:
        raised = str(c.raised_event_id) in self.published_ids
        resolved = (
            c.resolved_event_id is not None and str(c.resolved_event_id) in self.published_ids
        )
        return {
            "concern_id": str(c.concern_id),
            "story": c.story,
            "category": c.category.value,
            "severity": c.severity.value,
            "zone_id": c.zone_id,
            "period": c.period,
            "student_refs": list(c.student_refs),
            "officer_id": c.officer_id,
            "raised": raised,
            "raised_at": _t(c.raised_at),
            "raised_event_id": str(c.raised_event_id),
            "status": "resolved" if resolved else "open",
            "resolved_at": _t(c.resolved_at) if resolved else None,
            "resolved_event_id": str(c.resolved_event_id) if resolved else None,
            "outcome": c.outcome.value if resolved and c.outcome else None,
            "follow_up_in_school_days": c.follow_up_in_school_days if resolved else None,
        }


def _visit(v: VisitStory) -> dict[str, Any]:
    return {
        "key": v.key,
        "day": _d(v.day),
        "scenario": v.scenario,
        "visitor_type": v.visitor_type.value,
        "host_id": v.host_id,
        "destination_zones": list(v.destination_zones),
        "expected_minutes": v.expected_minutes,
        "name": v.name,
        "request_id": str(v.request_id),
        "signed_in_at": _t(v.signed_in_at),
        "signed_out_at": _t(v.signed_out_at),
        "visit_id": None,
        "badge_number": None,
        "status": None,
        "status_after_sign_in": None,
        "expected_until": None,
        "possible_matches": [],
        "screening": None,
        "checked_out_at": None,
        "sightings": [
            {
                "event_id": str(s.event_id),
                "zone_id": s.zone_id,
                "at": _t(s.at),
                "out_of_bounds": s.out_of_bounds,
                "published": False,
            }
            for s in v.sightings
        ],
        "overdue_at": _t(v.overdue_at),
        "expect_overdue": v.overdue_at is not None,
        "expect_out_of_bounds": any(s.out_of_bounds for s in v.sightings),
        "expect_flagged": v.scenario == "watchlist" and v.screening_at is not None,
        "watchlist_entry_id": v.watchlist_entry_id,
    }
