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
- If a whole cycle of steps is skipped, nobody could be reached now: the alert is held until the
  first moment (within 14 days) at which some step could reach someone.
- Acknowledging stops the escalation until the ack timeout; then the alert re-triggers from
  step 0. Resolving needs an outcome note and stops everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from lookout.contracts.alerts import AlertSource, AlertStatus, HeartbeatMissed
from lookout.contracts.envelope import Event
from lookout.contracts.patrol import (
    CheckMissed,
    ConcernRaised,
    FollowUpMissed,
    Severity,
)
from lookout.contracts.visitors import (
    ScreeningDecision,
    ScreeningFlagged,
    VisitorOutOfBounds,
    VisitorOverdue,
)
from lookout.school import EscalationPolicyConfig, Person, Role, SchoolConfig, StepWhen

# Alert ids are derived from the event that opened the alert, so a replay opens the same alert.
ALERT_NAMESPACE = uuid.UUID("6d1f3c52-4be5-4f0e-9a55-1c0ad9e0a7a4")
HOLD_HORIZON_DAYS = 14


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


def seed_for(event: Event) -> AlertSeed:
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
        # Repeated misses of one zone fold into one alert until it is resolved.
        return _seed(
            f"check_missed:{event.zone_id}",
            AlertSource.CHECK_MISSED,
            "check_missed",
            Severity.LOW,
            event.zone_id,
        )
    if isinstance(event, HeartbeatMissed):
        return _seed(
            f"heartbeat_missed:{event.officer_id}",
            AlertSource.HEARTBEAT_MISSED,
            "heartbeat_missed",
            Severity.HIGH,  # lone-worker safety: the SSO may need help
            None,
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
    if isinstance(event, FollowUpMissed):
        # A missed welfare re-check is caught by policies for its source or its concern category.
        return AlertSeed(
            f"follow_up_missed:{event.concern_id}",
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


def step_applies(school: SchoolConfig, when: StepWhen, moment: datetime) -> bool:
    """`when` against school hours (the kernel's rule, shared with `lookout check school`)."""
    return school.step_applies(when, moment)


def people_for(school: SchoolConfig, targets: Iterable[str]) -> list[Person]:
    """Targets (roles or person ids) as people, in file order, each once."""
    return school.people_for(targets)


# --- firing a due step --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    """A step reached people."""

    step: int
    repeat: int
    notified: tuple[Person, ...]
    off_duty: tuple[str, ...]


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
    """A new alert: step 0 is due after its delay."""
    return Escalation(
        AlertStatus.OPEN, 0, 0, now + timedelta(minutes=policy.steps[0].delay_minutes)
    )


def _try_step(
    school: SchoolConfig, policy: PolicySnapshot, i: int, r: int, now: datetime
) -> Fired | Skipped:
    step = policy.steps[i]
    if not step_applies(school, step.when, now):
        which = "school hours" if step.when is StepWhen.SCHOOL_HOURS else "after hours"
        return Skipped(i, r, f"applies only {which}")
    people = people_for(school, step.targets)
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


def fire(school: SchoolConfig, policy: PolicySnapshot, state: Escalation, now: datetime) -> Outcome:
    """The alert's timer is due at `now`: re-trigger an expired ack, else fire the next step
    (skipping, without waiting, steps that apply at another time or whose targets are off
    duty)."""
    if state.status is AlertStatus.RESOLVED:
        return Outcome(Escalation(state.status, state.step, state.repeat, None))
    retriggered = state.status is AlertStatus.ACKNOWLEDGED
    i, r = (0, 0) if retriggered else (state.step, state.repeat)
    actions: list[Fired | Skipped] = []
    start = (i, r)
    while True:
        action = _try_step(school, policy, i, r, now)
        actions.append(action)
        nxt = _following(policy, i, r)
        if isinstance(action, Fired):
            if nxt is None:
                done = Escalation(AlertStatus.OPEN, i + 1, r, None)
                return Outcome(done, tuple(actions), retriggered, exhausted=True)
            ni, nr, wait = nxt
            return Outcome(
                Escalation(AlertStatus.OPEN, ni, nr, now + wait), tuple(actions), retriggered
            )
        skipped_in_a_row = len(actions)
        if skipped_in_a_row >= len(policy.steps) or nxt is None:
            if skipped_in_a_row < len(policy.steps):
                # The end of the last pass: earlier steps of this pass reached someone.
                done = Escalation(AlertStatus.OPEN, i + 1, r, None)
                return Outcome(done, tuple(actions), retriggered, exhausted=True)
            # A whole cycle reached nobody: hold until someone can be reached, from `start`.
            until = next_reachable(school, policy, now)
            state_after = Escalation(AlertStatus.OPEN, start[0], start[1], until)
            return Outcome(
                state_after,
                tuple(actions),
                retriggered,
                held_until=until,
                unroutable=until is None,
            )
        i, r = nxt[0], nxt[1]


def next_reachable(
    school: SchoolConfig, policy: PolicySnapshot, after: datetime
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
                isinstance(_try_step(school, policy, i, 0, moment), Fired)
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


def acknowledge(policy: PolicySnapshot, state: Escalation, now: datetime) -> Escalation:
    """Stop escalating; re-trigger after the ack timeout unless resolved by then."""
    if state.status is AlertStatus.RESOLVED:
        raise Refusal("alert is already resolved")
    return Escalation(AlertStatus.ACKNOWLEDGED, state.step, state.repeat, now + policy.ack_timeout)


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
    seed = _seed("", facts.source, facts.category, new, facts.zone_id)  # routing only
    policy = choose_policy(school, seed)
    return Reroute(policy, opened(policy, now))


def resolve(state: Escalation, note: str) -> Escalation:
    if state.status is AlertStatus.RESOLVED:
        raise Refusal("alert is already resolved")
    if not note.strip():
        raise Refusal("resolving an alert needs an outcome note (--note)")
    return Escalation(AlertStatus.RESOLVED, state.step, state.repeat, None)


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
    school: SchoolConfig, facts: AlertFacts, person: Person, fired: Fired, policy: PolicySnapshot
) -> tuple[str, str]:
    """Subject and plain-text body for one person. No student references, names or notes."""
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
        "Acknowledge it in the Lookout client, or on the command line:",
        f"  lookout alerts ack {facts.alert_id} --by {person.id}",
        "Resolve it with an outcome note once handled:",
        f'  lookout alerts resolve {facts.alert_id} --by {person.id} --note "..."',
        "",
        "Details about students are never sent by email; see them in the Lookout client.",
    ]
    return subject, "\n".join(lines) + "\n"


def is_rate_limited(severity: Severity, sent_in_window: int, limit: int) -> bool:
    """Per-person email limit; critical alerts are always sent."""
    return severity is not Severity.CRITICAL and sent_in_window >= limit


def email_retry_delay(attempts: int) -> timedelta:
    """After the n-th failed attempt: 1, 5, 25 minutes."""
    return timedelta(minutes=5 ** (attempts - 1))
