"""What the week's ground truth implies the alerts service must have notified: per alert, who
and when. Written from the lifecycle spec (/work/notes/lifecycle.md, issue 12) and the
hand-written table of the example school (tests/e2e/lhs_policies.py); it imports nothing of
the services and no school-config rules, so a policy-semantics bug in the engine can fail it.

Inputs: the simulator's ground truth (what was published when, which windows were missed, which
concerns were raised and resolved, visits, heartbeats) and the harness's fault log: each span
during which a service handled nothing (killed and restarted later, or its database locked).
Whatever reached a service, or fell due in it, during such a span `(start, end]` is handled at
`end`, when the service can work again (the driver holds simulated time there until the suite is
quiet). Where the spec does not say which of two things handled at the same moment goes first
(a timer that fell due while the service was down, and an event for the same alert that waited
in the stream), the case is reported as ambiguous instead of guessed: the harness must place
its faults elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e import lhs_policies as lhs

TZ = ZoneInfo(lhs.TIMEZONE)
URGENT = frozenset({"high", "critical"})
HOLD_HORIZON = timedelta(days=14)
RECHECK = timedelta(hours=24)


@dataclass(frozen=True)
class Outage:
    """A span of simulated time in which `service` handled nothing: what reached it or fell due
    in it during `(start, end]` was handled at `end`."""

    service: str
    start: datetime
    end: datetime
    why: str = ""


@dataclass(frozen=True, order=True)
class Notification:
    dedup_key: str
    person_id: str
    at: datetime
    route: str = "policy"

    def line(self) -> str:
        local = self.at.astimezone(TZ)
        return f"{self.dedup_key} -> {self.person_id} at {local:%a %H:%M:%S} ({self.route})"


@dataclass(frozen=True, order=True)
class Opening:
    dedup_key: str
    at: datetime
    policy: str

    def line(self) -> str:
        return f"{self.dedup_key} opened at {self.at.astimezone(TZ):%a %H:%M:%S} ({self.policy})"


@dataclass
class Expected:
    notifications: list[Notification] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)
    unresolved_at_end: set[str] = field(default_factory=set)  # keys whose last alert is open
    ambiguous: list[str] = field(default_factory=list)


# --- the school's calendar and roster, from the table -----------------------------------------


def _weekday(day: date) -> str:
    return ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]


def is_school_day(day: date) -> bool:
    return _weekday(day) in lhs.WEEKDAYS and day not in lhs.NO_SCHOOL_DAYS


def in_school_hours(moment: datetime) -> bool:
    local = moment.astimezone(TZ)
    return is_school_day(local.date()) and lhs.FIRST_BELL <= local.time() < lhs.LAST_BELL


def on_duty(person: str, moment: datetime) -> bool:
    duty = lhs.PEOPLE[person]
    local = moment.astimezone(TZ)
    if _weekday(local.date()) not in duty.days:
        return False
    if local.date() in lhs.NO_SCHOOL_DAYS and not duty.no_school_days:
        return False
    if duty.hours is None:
        return True
    return duty.hours[0] <= local.time() < duty.hours[1]


def step_applies(when: str, moment: datetime) -> bool:
    if when == "always":
        return True
    return in_school_hours(moment) == (when == "school_hours")


def school_time(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TZ)


def next_first_bell(after: datetime) -> datetime:
    day = after.astimezone(TZ).date()
    while True:
        if is_school_day(day) and school_time(day, lhs.FIRST_BELL) > after:
            return school_time(day, lhs.FIRST_BELL)
        day += timedelta(days=1)


def choose_policy(category: str, source: str, severity: str) -> lhs.Policy:
    for policy in lhs.POLICIES:
        if policy.categories & {category, source, "*"} and severity in policy.severities:
            return policy
    return lhs.FALLBACK


# --- one alert's escalation --------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """Something the alerts service handles for a dedup key at `at` (`late`: it waited for the
    service, or for the service that emits it, to come back)."""

    at: datetime
    kind: str  # report | clear | miss | recover (check_missed: per-day miss counting)
    late: bool
    source: str = ""
    category: str = ""
    severity: str = ""
    about: str | None = None  # the silent officer of a lone-worker alarm


@dataclass
class _Alert:
    policy: lhs.Policy
    severity: str
    about: str | None
    step: int = 0
    repeat: int = 0
    due: datetime | None = None  # the timer's deadline
    exhausted: bool = False
    reached: bool = False  # some step (or the safety net) has reached someone
    resolved: bool = False


class _Key:
    def __init__(self, key: str, out: Expected, down: Availability) -> None:
        self.key = key
        self.out = out
        self.down = down
        self.alert: _Alert | None = None
        self.misses = 0

    def notify(self, people: Iterable[str], at: datetime, route: str) -> None:
        for person in sorted(set(people)):
            self.out.notifications.append(Notification(self.key, person, at, route))

    def reachable(self, step: lhs.Step, at: datetime, about: str | None) -> list[str]:
        if not step_applies(step.when, at):
            return []
        return [p for p in step.people if p != about and on_duty(p, at)]

    # what comes in

    def handle(self, e: Input) -> None:
        a = self.alert
        if e.kind in ("report", "miss"):
            if e.kind == "miss":
                self.misses += 1
            if a is None or a.resolved:
                self.open(e)
            elif a.exhausted:  # a repeat re-notifies from step 0, now
                a.step, a.repeat, a.exhausted = 0, 0, False
                self.start(a, e.at)
            # escalating or held: it only folds
        elif e.kind == "recover":
            self.misses -= 1
            if self.misses == 0 and a is not None:
                a.resolved = True
        elif e.kind == "clear" and a is not None:
            a.resolved = True

    def open(self, e: Input) -> None:
        policy = choose_policy(e.category, e.source, e.severity)
        self.alert = _Alert(policy, e.severity, e.about)
        self.out.openings.append(Opening(self.key, e.at, policy.name))
        self.start(self.alert, e.at)

    def start(self, a: _Alert, at: datetime) -> None:
        a.due = at + timedelta(minutes=a.policy.steps[0].delay_minutes)
        if a.due <= at:  # delay 0: at once, in the same transaction
            self.walk(a, at)

    # the timer

    def fire_at(self) -> datetime | None:
        a = self.alert
        if a is None or a.resolved or a.due is None:
            return None
        return self.down.handled("alerts", a.due)

    def fire(self, at: datetime) -> None:
        assert self.alert is not None
        self.walk(self.alert, at)

    def walk(self, a: _Alert, at: datetime) -> None:
        """The due step (a.step, a.repeat) at `at`: fire it, or skip it and try the next at the
        same moment, wrapping into the next pass while passes remain."""
        steps, passes = a.policy.steps, a.policy.repeat + 1
        step, repeat = a.step, a.repeat
        walked = 0
        while True:
            people = self.reachable(steps[step], at, a.about)
            if people:
                self.notify(people, at, "policy")
                a.reached = True
                self.go_on(a, step, repeat, at)
                return
            walked += 1
            last = step == len(steps) - 1 and repeat == passes - 1
            # A whole cycle reaching nobody is checked first: it is the case the safety net is
            # for (the spec lists both; a walk can meet both at once only at the very end).
            if walked < len(steps) and last and a.reached:
                a.due, a.exhausted = None, True
                return
            if walked >= len(steps) or last:
                self.nobody(a, at)
                return
            step, repeat = (step + 1, repeat) if step + 1 < len(steps) else (0, repeat + 1)

    def go_on(self, a: _Alert, step: int, repeat: int, at: datetime) -> None:
        steps = a.policy.steps
        if step + 1 < len(steps):
            a.step, a.repeat = step + 1, repeat
            a.due = at + timedelta(minutes=steps[step + 1].delay_minutes)
        elif repeat < a.policy.repeat:
            gap = max(1, *(s.delay_minutes for s in steps))
            a.step, a.repeat = 0, repeat + 1
            a.due = at + timedelta(minutes=gap)
        else:
            a.due, a.exhausted = None, True

    def nobody(self, a: _Alert, at: datetime) -> None:
        """No step reaches anyone at `at`, walking on from the due step."""
        if a.severity in URGENT:
            on_call = [p for p in lhs.ON_CALL if p != a.about and on_duty(p, at)]
            if on_call:
                self.notify(on_call, at, "on_call")
            else:
                named = {p for s in a.policy.steps for p in s.people if p != a.about}
                self.notify(named, at, "nobody_on_duty")
            a.reached = True
            self.go_on(a, a.step, a.repeat, at)
            return
        until = self.next_reachable(a, at)
        a.due = at + RECHECK if until is None else min(until, at + RECHECK)

    def next_reachable(self, a: _Alert, after: datetime) -> datetime | None:
        """The first moment within 14 days at which some step could reach someone; only the
        moments where that can change are looked at (midnight, first and last bell, the start
        and end of each person's duty hours)."""
        moments: set[datetime] = set()
        day = after.astimezone(TZ).date()
        for n in range(HOLD_HORIZON.days + 2):
            d = day + timedelta(days=n)
            moments |= {school_time(d, time(0)), school_time(d, lhs.FIRST_BELL)}
            moments.add(school_time(d, lhs.LAST_BELL))
            for duty in lhs.PEOPLE.values():
                if duty.hours is not None:
                    moments |= {school_time(d, duty.hours[0]), school_time(d, duty.hours[1])}
        for m in sorted(m for m in moments if after < m <= after + HOLD_HORIZON):
            if any(self.reachable(s, m, a.about) for s in a.policy.steps):
                return m
        return None


class Availability:
    def __init__(self, outages: Iterable[Outage]) -> None:
        self.outages = list(outages)

    def handled(self, service: str, moment: datetime) -> datetime:
        """When `service` handles what reached it (or fell due in it) at `moment`."""
        for o in self.outages:
            if o.service == service and o.start < moment <= o.end:
                return o.end
        return moment


# --- from the ground truth to what reaches the alerts service ---------------------------------


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def alert_inputs(
    truth: dict[str, Any], down: Availability, ambiguous: list[str]
) -> dict[str, list[Input]]:
    inputs: dict[str, list[Input]] = defaultdict(list)
    published = {e["event_id"]: when(e["published_at"]) for e in truth["events"]}

    def to_alerts(key: str, at: datetime, kind: str, late: bool = False, **facts: Any) -> None:
        handled = down.handled("alerts", at)
        inputs[key].append(Input(handled, kind, late or handled != at, **facts))

    # Concerns: straight from the CONCERNS stream.
    for c in truth["concerns"]:
        if not c["raised"]:
            continue
        key = f"concern:{c['concern_id']}"
        to_alerts(
            key,
            published[c["raised_event_id"]],
            "report",
            source="concern",
            category=c["category"],
            severity=c["severity"],
        )
        if c["resolved_event_id"]:
            to_alerts(key, published[c["resolved_event_id"]], "clear")

    _missed_checks(truth, down, published, to_alerts, ambiguous)
    _silences(truth, down, to_alerts, ambiguous)
    _visits(truth, down, published, to_alerts)
    return inputs


def _missed_checks(
    truth: dict[str, Any],
    down: Availability,
    published: dict[str, datetime],
    to_alerts: Any,
    ambiguous: list[str],
) -> None:
    """A window missed by the plan is reported by the patrol service at its deadline (or when
    it can); a window whose scan reached the patrol service only after that is reported missed
    and then recovered. Each is a check_missed alert per zone and school day, resolved by itself
    at that day's last bell."""
    scans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)  # zone -> (made, seen)
    for e in truth["events"]:
        if e["type"] == "checkpoint.scanned":
            seen = down.handled("patrol", when(e["published_at"]))
            scans[e["zone_id"]].append((when(e["occurred_at"]), seen))
    days: set[tuple[str, str]] = set()
    for w in truth["windows"]:
        start, deadline = when(w["window_start"]), when(w["deadline"])
        judged = down.handled("patrol", deadline)
        inside = [seen for made, seen in scans[w["zone_id"]] if start <= made <= deadline]
        day = start.astimezone(TZ).date()
        key = f"check_missed:{w['zone_id']}:{day.isoformat()}"
        facts = {"source": "check_missed", "category": "check_missed", "severity": "low"}
        if w["expected_outcome"] == "missed":
            assert not inside, f"window {key} missed by the plan has a scan inside it"
            to_alerts(key, judged, "miss", late=judged != deadline, **facts)
            days.add((key, day.isoformat()))
            continue
        first = min(inside, default=None)
        assert first is not None, f"window {key} ({w['expected_outcome']}) has no scan"
        if first < judged or (first == judged and first == deadline):
            continue  # seen before its deadline was judged
        if first == judged:
            ambiguous.append(f"{key}: its scan and its deadline both waited until {first}")
            continue
        to_alerts(key, judged, "miss", late=True, **facts)
        to_alerts(key, first, "recover", late=True)
        days.add((key, day.isoformat()))
    for key, day in days:
        to_alerts(key, school_time(date.fromisoformat(day), lhs.LAST_BELL), "clear")


def _silences(
    truth: dict[str, Any], down: Availability, to_alerts: Any, ambiguous: list[str]
) -> None:
    """A phone is silent `heartbeat_limit` after the last heartbeat the patrol service saw
    (min(phone stamp, time received)); in school hours that is reported at once, outside them
    at the next first bell if still silent; the next heartbeat resumes it."""
    limit = timedelta(minutes=lhs.HEARTBEAT_LIMIT_MINUTES)
    ends_at = when(truth["ends_at"])
    beats: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)  # officer -> (seen, at)
    for e in truth["events"]:
        if e["type"] == "device.heartbeat":
            seen = down.handled("patrol", when(e["published_at"]))
            beats[e["officer_id"]].append((seen, min(when(e["occurred_at"]), seen)))
    for officer, rows in beats.items():
        rows.sort()
        key = f"heartbeat_missed:{officer}"
        facts = {
            "source": "heartbeat_missed",
            "category": "heartbeat_missed",
            "severity": "high",
            "about": officer,
        }
        last: datetime | None = None
        for seen, stamp in [*rows, (ends_at + timedelta(days=1), ends_at)]:
            if last is not None:
                silent = last + limit
                report = silent if in_school_hours(silent) else next_first_bell(silent)
                reported = down.handled("patrol", report)
                if reported < seen and reported <= ends_at:
                    to_alerts(key, reported, "report", late=reported != report, **facts)
                    if seen <= ends_at:
                        to_alerts(key, seen, "clear", late=True)
                elif reported == seen and reported != report:
                    ambiguous.append(f"{key}: a heartbeat and its silence both waited to {seen}")
            last = stamp if last is None else max(last, stamp)


def _visits(
    truth: dict[str, Any], down: Availability, published: dict[str, datetime], to_alerts: Any
) -> None:
    """Visitors: overdue (medium) and out of bounds (high) until signed out at the front
    office; a visit still on site an hour after the last bell is checked out automatically,
    overdue by then, and unaccounted for (high), which clears nothing. A flagged screening
    (yes: high, not sure: medium) is not resolved by the checkout."""
    for v in truth["visits"]:
        visit_id = v["visit_id"]
        if not visit_id:
            continue
        screening = v["screening"]
        if screening is not None and screening["answer"] in ("yes", "not_sure"):
            to_alerts(
                f"screening_flagged:{visit_id}",
                when(screening["done_at"]),
                "report",
                source="screening_flagged",
                category="screening_flagged",
                severity="high" if screening["answer"] == "yes" else "medium",
            )
        if v["status"] == "denied":
            continue  # never came in
        at_desk = bool(v["checked_out_at"])
        if at_desk:
            out = when(v["checked_out_at"])
        else:
            margin = timedelta(minutes=lhs.AUTO_CHECKOUT_AFTER_LAST_BELL_MINUTES)
            last_bell = school_time(date.fromisoformat(v["day"]), lhs.LAST_BELL)
            out = down.handled("visitors", last_bell + margin)
        keys = []
        # Overdue at expected + grace; a visit nobody signed out is overdue at the latest when
        # the day closes (the end-of-day checkout reports it then).
        overdue = when(v["overdue_at"]) if v["overdue_at"] else None
        if not at_desk:
            overdue = out if overdue is None else min(overdue, out)
        if overdue is not None and (overdue < out or not at_desk):
            key = f"visitor_overdue:{visit_id}"
            at = down.handled("visitors", overdue)
            to_alerts(
                key,
                at,
                "report",
                source="visitor_overdue",
                category="visitor_overdue",
                severity="medium",
            )
            keys.append(key)
        for s in v["sightings"]:
            if not (s["out_of_bounds"] and s["published"]):
                continue
            at = down.handled("visitors", published[s["event_id"]])
            if at >= out:
                continue
            key = f"visitor_out_of_bounds:{visit_id}"
            to_alerts(
                key,
                at,
                "report",
                source="visitor_out_of_bounds",
                category="visitor_out_of_bounds",
                severity="high",
            )
            keys.append(key)
        if at_desk:  # seen leaving: the desk sign-out clears what the visit raised
            for key in dict.fromkeys(keys):
                to_alerts(key, out, "clear")
        else:  # nobody saw the visitor leave: unaccounted for (high); nothing is cleared
            to_alerts(
                f"visitor_unaccounted:{visit_id}",
                out,
                "report",
                source="visitor_unaccounted",
                category="visitor_unaccounted",
                severity="high",
            )


def expected_notifications(truth: dict[str, Any], outages: Iterable[Outage]) -> Expected:
    """Every notification (alert's dedup key, person, moment, route) and every alert opening
    the ground truth implies, until the end of the plan."""
    down = Availability(outages)
    out = Expected()
    ends_at = when(truth["ends_at"])
    for key, inputs in sorted(alert_inputs(truth, down, out.ambiguous).items()):
        inputs.sort(key=lambda e: e.at)  # stable: same-moment inputs keep their order
        k = _Key(key, out, down)
        pending = list(inputs)
        while True:
            timer = k.fire_at()
            if timer is not None and timer > ends_at:
                timer = None
            nxt = pending[0] if pending else None
            if nxt is None and timer is None:
                break
            if nxt is not None and (timer is None or nxt.at < timer):
                k.handle(pending.pop(0))
                continue
            assert timer is not None
            if nxt is not None and nxt.at == timer:
                # Which goes first is not the spec's to say (nor the driver's: a timer and an
                # event at one moment race), so the faults and the plan must not do this.
                out.ambiguous.append(f"{key}: a {nxt.kind} and a due step both at {timer}")
            k.fire(timer)
        if k.alert is not None and not k.alert.resolved:
            out.unresolved_at_end.add(key)
    out.notifications.sort(key=lambda n: (n.at, n.dedup_key, n.person_id))
    out.openings.sort(key=lambda o: (o.at, o.dedup_key))
    return out
