"""Escalation rules, pure: what raises an alert, which policy it follows, and what happens when
its next step is due. No I/O: the handlers and timers load state, call these, and store results.

Timing rules (a policy's steps are copied into the alert when it opens, so editing the school
file never changes an escalation under way):
- `delay_minutes` of a step is the wait after the previous step (for step 0: after opening).
- A repeated pass starts `repeat_gap` after the previous pass's last step: the policy's longest
  step delay, at least one minute.
- A step whose `when` does not hold now (school hours / after hours, from the bell schedule in
  the school's timezone; no-school days are after hours), or whose targets are all off duty, is
  skipped and not waited on: the next step is tried at once.
- If a whole cycle of steps is skipped, nobody could be reached now. A high or critical alert is
  never held: it goes at once to the school's on-call people on duty, else to every target of the
  policy regardless of duty ("nobody on duty"), and its escalation goes on. A low or medium one
  is held until the first moment (within 14 days) at which some step could reach someone, and
  re-checked at least daily; nobody within 14 days: unroutable, re-checked daily.
- The officer a lone-worker alarm is about is never counted as reached by it.
- Acknowledging stops the escalation until the ack timeout; then the alert re-triggers from
  step 0. Resolving needs an outcome note and stops everything. A repeat of an acknowledged or
  exhausted alert re-notifies from step 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from lookout.contracts.alerts import (
    AlertSource,
    AlertStatus,
    HeartbeatMissed,
    NotificationRoute,
    RoutingState,
)
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    ConcernRaised,
    FollowUpMissed,
    SensorCheckMissed,
    Severity,
)
from lookout.contracts.visitors import (
    ScreeningDecision,
    ScreeningFlagged,
    VisitorOutOfBounds,
    VisitorOverdue,
    VisitorUnaccounted,
)
from lookout.school.config import EscalationPolicyConfig, Person, Role, SchoolConfig, StepWhen

# Alert ids are derived from the event that opened the alert, so a replay opens the same alert.
ALERT_NAMESPACE = uuid.UUID("6d1f3c52-4be5-4f0e-9a55-1c0ad9e0a7a4")
HOLD_HORIZON_DAYS = 14
# A held or unroutable alert is looked at again at least this often: nothing waits unwatched.
RECHECK = timedelta(days=1)


# --- what raises an alert ---------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSeed:
    """What an incoming event contributes to an alert."""

    dedup_key: str
    source: AlertSource
    category: str  # concern category, or the source name
    severity: Severity
    zone_id: str | None
    match: frozenset[str]  # what a policy's `categories` may name to catch it
    about_person: str | None = None  # the officer a lone-worker alarm is about
    resolves_at: datetime | None = None  # resolves by itself then (a missed check: day's end)


def seed_for(event: Event, school: SchoolConfig) -> AlertSeed:
    """The alert an event raises (or folds into, by its dedup key)."""
    if isinstance(event, ConcernRaised):
        return _seed(
            f"concern:{event.concern_id}",
            AlertSource.CONCERN,
            event.category.value,
            event.severity,
            event.zone_id,
        )
    if isinstance(event, CheckMissed):
        # Misses of one zone on one school day fold into one alert, which ends with the day.
        day = event.window_start.astimezone(school.tz).date()
        return AlertSeed(
            check_missed_key(event.zone_id, day),
            AlertSource.CHECK_MISSED,
            "check_missed",
            Severity.LOW,
            event.zone_id,
            frozenset({"check_missed"}),
            resolves_at=end_of_school_day(school, day),
        )
    if isinstance(event, HeartbeatMissed):
        return AlertSeed(
            heartbeat_key(event.officer_id),
            AlertSource.HEARTBEAT_MISSED,
            "heartbeat_missed",
            Severity.HIGH,  # lone-worker safety: the SSO may need help
            None,
            frozenset({"heartbeat_missed"}),
            about_person=event.officer_id,
        )
    if isinstance(event, ScreeningFlagged):
        confirmed = event.decision is ScreeningDecision.YES
        return _seed(
            f"screening_flagged:{event.visit_id}",
            AlertSource.SCREENING_FLAGGED,
            "screening_flagged",
            Severity.HIGH if confirmed else Severity.MEDIUM,
            None,
        )
    if isinstance(event, VisitorOverdue):
        return _seed(
            visit_keys(event.visit_id)[0],
            AlertSource.VISITOR_OVERDUE,
            "visitor_overdue",
            Severity.MEDIUM,
            None,
        )
    if isinstance(event, VisitorOutOfBounds):
        return _seed(
            visit_keys(event.visit_id)[1],
            AlertSource.VISITOR_OUT_OF_BOUNDS,
            "visitor_out_of_bounds",
            Severity.HIGH,
            event.zone_id,
        )
    if isinstance(event, VisitorUnaccounted):
        # Checked out by the end of the day, not at the desk: nobody saw the visitor leave.
        return _seed(
            f"visitor_unaccounted:{event.visit_id}",
            AlertSource.VISITOR_UNACCOUNTED,
            "visitor_unaccounted",
            Severity.HIGH,
            event.last_seen_zone,
        )
    if isinstance(event, SensorCheckMissed):
        # A vape or sound sensor went off and nobody scanned the zone in time: caught by a
        # policy for `sensor_unchecked` (the reading, "vape", may be named too).
        return AlertSeed(
            sensor_key(event.sensor_event_id),
            AlertSource.SENSOR_UNCHECKED,
            "sensor_unchecked",
            Severity.MEDIUM,
            event.zone_id,
            frozenset({"sensor_unchecked"}),
        )
    if isinstance(event, FollowUpMissed):
        # A missed welfare re-check is caught by policies for its source or its concern category.
        return AlertSeed(
            follow_up_key(event.concern_id),
            AlertSource.FOLLOW_UP_MISSED,
            event.category.value,
            event.severity,
            event.zone_id,
            frozenset({"follow_up_missed", event.category.value}),
        )
    raise TypeError(f"{event.type} raises no alert")


def _seed(
    key: str, source: AlertSource, category: str, severity: Severity, zone: str | None
) -> AlertSeed:
    return AlertSeed(key, source, category, severity, zone, frozenset({category}))


def concern_key(concern_id: uuid.UUID) -> str:
    return f"concern:{concern_id}"


def follow_up_key(concern_id: uuid.UUID) -> str:
    return f"follow_up_missed:{concern_id}"


def sensor_key(sensor_event_id: uuid.UUID) -> str:
    return f"sensor_unchecked:{sensor_event_id}"


def heartbeat_key(officer_id: str) -> str:
    return f"heartbeat_missed:{officer_id}"


def check_missed_key(zone_id: str, day: date) -> str:
    return f"check_missed:{zone_id}:{day.isoformat()}"


def end_of_school_day(school: SchoolConfig, day: date) -> datetime:
    """The last bell of `day`, or the next local midnight on a day without school."""
    hours = school.school_hours(day)
    if hours is not None:
        return hours[1]
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=school.tz)


def reseed(facts: AlertFacts, severity: Severity, key: str = "") -> AlertSeed:
    """An alert's seed at a new severity (for the policy choice, or a new alert under `key`)."""
    return _seed(key, facts.source, facts.category, severity, facts.zone_id)


def visit_keys(visit_id: uuid.UUID) -> tuple[str, str]:
    """The alerts a visit's checkout resolves: overdue and out of bounds (not a screening
    flag, which an administrator reviews whether or not the visitor is still here)."""
    return (f"visitor_overdue:{visit_id}", f"visitor_out_of_bounds:{visit_id}")


def alert_id_for(source_event_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(ALERT_NAMESPACE, str(source_event_id))


# --- policies and their snapshot ----------------------------------------------------------------


@dataclass(frozen=True)
class StepSnapshot:
    targets: tuple[str, ...]
    delay_minutes: int
    when: StepWhen


@dataclass(frozen=True)
class PolicySnapshot:
    """An escalation policy as copied into an alert when it opened."""

    name: str
    steps: tuple[StepSnapshot, ...]
    repeat: int
    ack_timeout_minutes: int

    @classmethod
    def of(cls, policy: EscalationPolicyConfig) -> PolicySnapshot:
        return cls(
            policy.name,
            tuple(StepSnapshot(tuple(s.targets), s.delay_minutes, s.when) for s in policy.steps),
            policy.repeat,
            policy.ack_timeout_minutes,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": [
                {"targets": list(s.targets), "delay_minutes": s.delay_minutes, "when": s.when}
                for s in self.steps
            ],
            "repeat": self.repeat,
            "ack_timeout_minutes": self.ack_timeout_minutes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicySnapshot:
        return cls(
            data["name"],
            tuple(
                StepSnapshot(tuple(s["targets"]), int(s["delay_minutes"]), StepWhen(s["when"]))
                for s in data["steps"]
            ),
            int(data["repeat"]),
            int(data["ack_timeout_minutes"]),
        )

    @property
    def repeat_gap(self) -> timedelta:
        return timedelta(minutes=max(1, *(s.delay_minutes for s in self.steps)))

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(minutes=self.ack_timeout_minutes)


# Used when no configured policy matches: nothing that raised an alert is silently dropped.
FALLBACK_POLICY = PolicySnapshot(
    "fallback",
    (
        StepSnapshot((Role.SSO.value,), 0, StepWhen.ALWAYS),
        StepSnapshot((Role.PRINCIPAL.value,), 15, StepWhen.ALWAYS),
    ),
    repeat=1,
    ack_timeout_minutes=60,
)


def choose_policy(school: SchoolConfig, seed: AlertSeed) -> PolicySnapshot:
    """The first policy (in file order) whose categories and severities catch the alert."""
    for policy in school.escalation_policies:
        cats = set(policy.categories)
        if ("*" in cats or cats & seed.match) and seed.severity in policy.severities:
            return PolicySnapshot.of(policy)
    return FALLBACK_POLICY


# --- school hours and the duty roster --------------------------------------------------------


# --- firing a due step --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    """A step reached people (or, for a high or critical alert no step could route, the
    safety net did: `route` says which)."""

    step: int
    repeat: int
    notified: tuple[Person, ...]
    off_duty: tuple[str, ...]
    route: NotificationRoute = NotificationRoute.POLICY


@dataclass(frozen=True)
class Skipped:
    step: int
    repeat: int
    reason: str


@dataclass(frozen=True)
class Escalation:
    """The timer state of an alert."""

    status: AlertStatus
    step: int  # the next step to fire
    repeat: int  # the pass that step belongs to
    next_step_at: datetime | None
    routing: RoutingState = RoutingState.ESCALATING

    @property
    def awaits_renotify(self) -> bool:
        """A repeat of this alert should tell people again: someone acknowledged it (and may
        think it handled), or every step already fired."""
        return self.status is AlertStatus.ACKNOWLEDGED or self.routing is RoutingState.EXHAUSTED


@dataclass(frozen=True)
class Outcome:
    """What firing a due alert did, and its new timer state."""

    state: Escalation
    actions: tuple[Fired | Skipped, ...] = ()
    retriggered: bool = False
    held_until: datetime | None = None
    exhausted: bool = False
    unroutable: bool = False


def opened(policy: PolicySnapshot, now: datetime) -> Escalation:
    """A new alert (or one re-notified from the start): step 0 is due after its delay."""
    return Escalation(
        AlertStatus.OPEN, 0, 0, now + timedelta(minutes=policy.steps[0].delay_minutes)
    )


def _try_step(
    school: SchoolConfig,
    policy: PolicySnapshot,
    i: int,
    r: int,
    now: datetime,
    about: str | None = None,
) -> Fired | Skipped:
    step = policy.steps[i]
    if not school.step_applies(step.when, now):
        which = "school hours" if step.when is StepWhen.SCHOOL_HOURS else "after hours"
        return Skipped(i, r, f"applies only {which}")
    # The officer a lone-worker alarm is about cannot answer it: never counted as reached.
    people = [p for p in school.people_for(step.targets) if p.id != about]
    on = tuple(p for p in people if school.on_duty(p, now))
    off = tuple(p.id for p in people if not school.on_duty(p, now))
    if not on:
        if not off:
            return Skipped(i, r, "no one holds " + ", ".join(step.targets))
        return Skipped(i, r, "every target off duty: " + ", ".join(off))
    return Fired(i, r, on, off)


def _following(policy: PolicySnapshot, i: int, r: int) -> tuple[int, int, timedelta] | None:
    """The step after (i, r) and the wait before it, or None at the end of the last pass."""
    if i + 1 < len(policy.steps):
        return i + 1, r, timedelta(minutes=policy.steps[i + 1].delay_minutes)
    if r < policy.repeat:
        return 0, r + 1, policy.repeat_gap
    return None


URGENT = frozenset({Severity.HIGH, Severity.CRITICAL})


def fire(
    school: SchoolConfig,
    policy: PolicySnapshot,
    state: Escalation,
    now: datetime,
    severity: Severity = Severity.LOW,
    about: str | None = None,
) -> Outcome:
    """The alert's timer is due at `now`: re-trigger an expired ack, else fire the next step
    (skipping, without waiting, steps that apply at another time or whose targets are off
    duty). `about` is the officer a lone-worker alarm concerns (never counted as reached)."""
    if state.status is AlertStatus.RESOLVED:
        return Outcome(Escalation(state.status, state.step, state.repeat, None, state.routing))
    retriggered = state.status is AlertStatus.ACKNOWLEDGED
    i, r = (0, 0) if retriggered else (state.step, state.repeat)
    actions: list[Fired | Skipped] = []
    start = (i, r)
    while True:
        action = _try_step(school, policy, i, r, now, about)
        actions.append(action)
        nxt = _following(policy, i, r)
        if isinstance(action, Fired):
            return _went_on(policy, nxt, i, r, now, actions, retriggered)
        skipped_in_a_row = len(actions)
        if skipped_in_a_row >= len(policy.steps) or nxt is None:
            if skipped_in_a_row < len(policy.steps):
                # The end of the last pass: earlier steps of this pass reached someone.
                done = Escalation(AlertStatus.OPEN, i + 1, r, None, RoutingState.EXHAUSTED)
                return Outcome(done, tuple(actions), retriggered, exhausted=True)
            if severity in URGENT:
                net = safety_net(school, policy, now, about, start)
                if net is not None:
                    actions.append(net)
                    after = _following(policy, *start)
                    return _went_on(policy, after, *start, now, actions, retriggered)
            # Nobody reachable now: hold until someone is, from `start`, and look again daily.
            until = next_reachable(school, policy, now, about)
            recheck = now + RECHECK if until is None else min(until, now + RECHECK)
            routing = RoutingState.UNROUTABLE if until is None else RoutingState.HELD
            state_after = Escalation(AlertStatus.OPEN, start[0], start[1], recheck, routing)
            return Outcome(
                state_after,
                tuple(actions),
                retriggered,
                held_until=recheck,
                unroutable=until is None,
            )
        i, r = nxt[0], nxt[1]


def _went_on(
    policy: PolicySnapshot,
    nxt: tuple[int, int, timedelta] | None,
    i: int,
    r: int,
    now: datetime,
    actions: list[Fired | Skipped],
    retriggered: bool,
) -> Outcome:
    """Someone was reached at (i, r): the next step is due after its wait, or the policy ends."""
    if nxt is None:
        done = Escalation(AlertStatus.OPEN, i + 1, r, None, RoutingState.EXHAUSTED)
        return Outcome(done, tuple(actions), retriggered, exhausted=True)
    ni, nr, wait = nxt
    return Outcome(Escalation(AlertStatus.OPEN, ni, nr, now + wait), tuple(actions), retriggered)


def safety_net(
    school: SchoolConfig,
    policy: PolicySnapshot,
    now: datetime,
    about: str | None,
    at: tuple[int, int],
) -> Fired | None:
    """Who hears of a high or critical alert that no step can route now: the school's on-call
    people on duty; with nobody on duty, every person the policy names (else the on-call
    people) regardless of duty. None only when the school has nobody to tell at all."""
    on_call = [p for p in school.people_for(school.on_call) if p.id != about]
    on_duty = tuple(p for p in on_call if school.on_duty(p, now))
    if on_duty:
        return Fired(at[0], at[1], on_duty, (), NotificationRoute.ON_CALL)
    named = [t for step in policy.steps for t in step.targets]
    everyone = tuple(p for p in school.people_for(named) if p.id != about) or tuple(on_call)
    if everyone:
        return Fired(at[0], at[1], everyone, (), NotificationRoute.NOBODY_ON_DUTY)
    return None


def next_reachable(
    school: SchoolConfig, policy: PolicySnapshot, after: datetime, about: str | None = None
) -> datetime | None:
    """The first moment after `after` at which some step of the policy would reach someone.

    Duty and school hours only change at midnight, at the first and last bell, and at the
    start or end of someone's duty hours, so only those moments need checking.
    """
    start_day = after.astimezone(school.tz).date()
    for offset in range(HOLD_HORIZON_DAYS + 1):
        day = start_day + timedelta(days=offset)
        for moment in _change_points(school, day):
            if moment > after and any(
                isinstance(_try_step(school, policy, i, 0, moment, about), Fired)
                for i in range(len(policy.steps))
            ):
                return moment
    return None


def _change_points(school: SchoolConfig, day: date) -> list[datetime]:
    times: set[time] = {time(0, 0)}
    hours = school.school_hours(day)
    if hours is not None:
        times.update(
            {hours[0].timetz().replace(tzinfo=None), hours[1].timetz().replace(tzinfo=None)}
        )
    for person in school.people:
        if person.duty_window is not None:
            times.update(person.duty_window)
    return sorted(datetime.combine(day, t, tzinfo=school.tz) for t in times)


# --- commands -----------------------------------------------------------------------------------


class Refusal(Exception):
    """A command that cannot be applied; the reason goes back to the requester."""


def escalate_now(state: Escalation, now: datetime) -> Escalation:
    """A person asked for the next step now (`e` to a text): it is due at once, and an
    acknowledgement no longer holds the alert (it is open again)."""
    return Escalation(AlertStatus.OPEN, state.step, state.repeat, now, RoutingState.ESCALATING)


def acknowledge(policy: PolicySnapshot, state: Escalation, now: datetime) -> Escalation:
    """Stop escalating; re-trigger after the ack timeout unless resolved by then."""
    if state.status is AlertStatus.RESOLVED:
        raise Refusal("alert is already resolved")
    return Escalation(
        AlertStatus.ACKNOWLEDGED,
        state.step,
        state.repeat,
        now + policy.ack_timeout,
        RoutingState.ACKNOWLEDGED,
    )


SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True)
class Reroute:
    """A concern's severity went up: the alert follows the new severity's policy from its
    first step, now (a critical concern reaches the principal at once)."""

    policy: PolicySnapshot
    state: Escalation


def severity_changed(
    school: SchoolConfig, facts: AlertFacts, state: Escalation, new: Severity, now: datetime
) -> Reroute | None:
    """A concern's severity was updated. Raised: re-route, even an acknowledged alert (whoever
    acknowledged a "medium" did not acknowledge a "critical"). Lowered or unchanged: the
    escalation under way goes on as it was; slowing it is an adult's call (acknowledge it)."""
    if state.status is AlertStatus.RESOLVED or SEVERITY_RANK[new] <= SEVERITY_RANK[facts.severity]:
        return None
    policy = choose_policy(school, reseed(facts, new))
    return Reroute(policy, opened(policy, now))


def resolve(state: Escalation, note: str) -> Escalation:
    if state.status is AlertStatus.RESOLVED:
        raise Refusal("alert is already resolved")
    if not note.strip():
        raise Refusal("resolving an alert needs an outcome note (--note)")
    return Escalation(AlertStatus.RESOLVED, state.step, state.repeat, None, RoutingState.RESOLVED)


def raised_after_resolution(previous: AlertFacts, new: Severity) -> bool:
    """A concern whose alert was resolved got worse: that needs a new alert."""
    return SEVERITY_RANK[new] > SEVERITY_RANK[previous.severity]


# --- email --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFacts:
    """What an email may say about an alert: ids, enums and places, never students or notes."""

    alert_id: uuid.UUID
    source: AlertSource
    category: str
    severity: Severity
    zone_id: str | None
    count: int
    opened_at: datetime


def render_email(
    school: SchoolConfig,
    facts: AlertFacts,
    person: Person,
    fired: Fired,
    policy: PolicySnapshot,
    ack_url: str | None = None,
) -> tuple[str, str]:
    """Subject and plain-text body for one person. No student references, names or notes.
    `ack_url`: their signed acknowledge link (lookout.kernel.action_links), for a person whose
    role may acknowledge; without one the email points to the Lookout client."""
    what = facts.category.replace("_", " ")
    zones = {z.id: z.name for z in school.zones}
    where = zones.get(facts.zone_id, facts.zone_id) if facts.zone_id else None
    subject = f"[Lookout] {facts.severity.value.upper()} alert: {what}" + (
        f" at {where}" if where else ""
    )
    opened_local = facts.opened_at.astimezone(school.tz).strftime("%a %d %b %Y %H:%M %Z")
    lines = [
        f"{school.name}: an alert needs your attention.",
        "",
        f"Alert:     {facts.alert_id}",
        f"What:      {what} ({facts.source.value.replace('_', ' ')})",
        f"Severity:  {facts.severity.value}",
        f"Where:     {where or 'not given'}",
        f"Opened:    {opened_local}",
        f"Reports:   {facts.count}",
        f"Escalation step {fired.step + 1} of {len(policy.steps)}, "
        f"pass {fired.repeat + 1} of {policy.repeat + 1} ({policy.name} policy).",
        "",
        *(
            [
                "Acknowledge it here (the page asks you to confirm):",
                f"  {ack_url}",
                "Or on the command line:",
            ]
            if ack_url
            else ["Acknowledge it in the Lookout client, or on the command line:"]
        ),
        f"  lookout alerts ack {facts.alert_id} --by {person.id}",
        "Resolve it with an outcome note once handled:",
        f'  lookout alerts resolve {facts.alert_id} --by {person.id} --note "..."',
        "",
        "Details about students are never sent by email; see them in the Lookout client.",
    ]
    return subject, "\n".join(lines) + "\n"


def is_rate_limited(severity: Severity, sent_in_window: int, limit: int) -> bool:
    """Per-person email limit; high and critical alerts are always sent at once. A limited
    email is deferred and bundled into a digest, never dropped."""
    return severity not in URGENT and sent_in_window >= limit


def render_digest(
    school_name: str, subjects: list[tuple[str, str]], ack_urls: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """One email for alerts deferred by the per-person limit: (alert id, subject) each, and
    each alert's acknowledge link when `ack_urls` (by alert id) has one."""
    links = ack_urls or {}
    subject = f"[Lookout] {len(subjects)} alerts held back by your email limit"
    lines = [
        f"{school_name}: these alerts reached you while more emails than your limit had been",
        "sent in a short time. Each is still open until someone acknowledges or resolves it.",
        "",
    ]
    for alert_id, line in subjects:
        lines.append(f"- {line} (alert {alert_id})")
        if alert_id in links:
            lines.append(f"  Acknowledge: {links[alert_id]}")
    lines += [
        "",
        "Acknowledge them with their links (each page asks you to confirm), or: "
        "lookout alerts ack <alert> --by <you>"
        if links
        else "Acknowledge them in the Lookout client, or: lookout alerts ack <alert> --by <you>",
        "Details about students are never sent by email; see them in the Lookout client.",
    ]
    return subject, "\n".join(lines) + "\n"


def email_retry_delay(attempts: int) -> timedelta:
    """After the n-th failed attempt: 1, 5, 25 minutes."""
    return timedelta(minutes=5 ** (attempts - 1))
