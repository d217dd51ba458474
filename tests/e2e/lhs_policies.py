"""The example school (lookout/school/examples/lhs.yaml) as the week-long test's oracle sees
it, written out by hand: its escalation policies with every role resolved to the people who
hold it, each person's duty roster, the on-call people and the school calendar. Nothing here is
read from the school file or computed by Lookout code: when lhs.yaml changes, this table is
changed by hand (and a difference between the two is a finding, not something to paper over).

Roles in lhs.yaml -> people: sso -> sso-rivera; assistant_principal -> ap-chen; principal ->
principal-okafor; counselor -> counselor-patel; district_safety -> district-lee; front_office ->
office-garcia.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

SSO = "sso-rivera"
AP = "ap-chen"
PRINCIPAL = "principal-okafor"
COUNSELOR = "counselor-patel"
DISTRICT = "district-lee"
OFFICE = "office-garcia"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = (*WEEKDAYS, "sat", "sun")


@dataclass(frozen=True)
class Duty:
    """A person's duty roster: the weekdays, the hours (school time, [start, end); None: the
    whole day) and whether they also work the school's no-school days."""

    days: tuple[str, ...]
    hours: tuple[time, time] | None
    no_school_days: bool = False


PEOPLE: dict[str, Duty] = {
    SSO: Duty(WEEKDAYS, (time(7, 0), time(16, 0))),
    AP: Duty(WEEKDAYS, (time(6, 45), time(17, 30))),
    PRINCIPAL: Duty(WEEKDAYS, (time(6, 30), time(18, 0))),
    COUNSELOR: Duty(WEEKDAYS, (time(7, 30), time(16, 0))),
    DISTRICT: Duty(EVERY_DAY, None, no_school_days=True),
    OFFICE: Duty(WEEKDAYS, None),
}

ON_CALL: tuple[str, ...] = (DISTRICT,)  # on_call: [district_safety]


@dataclass(frozen=True)
class Step:
    people: frozenset[str]
    delay_minutes: int
    when: str = "always"  # always | school_hours | after_hours


@dataclass(frozen=True)
class Policy:
    name: str
    categories: frozenset[str]  # a category, a source name, or "*"
    severities: frozenset[str]
    steps: tuple[Step, ...]
    repeat: int
    ack_timeout_minutes: int


def _step(*people: str, delay: int, when: str = "always") -> Step:
    return Step(frozenset(people), delay, when)


WELLBEING = frozenset({"self_harm_risk", "emotional_distress", "bullying"})

# In file order: the first whose categories and severities match an alert is its policy.
POLICIES: tuple[Policy, ...] = (
    Policy(
        "critical",
        frozenset({"*"}),
        frozenset({"critical"}),
        (_step(PRINCIPAL, SSO, delay=0), _step(DISTRICT, delay=10)),
        repeat=2,
        ack_timeout_minutes=30,
    ),
    Policy(
        "lone-worker",
        frozenset({"heartbeat_missed"}),
        frozenset({"high"}),
        (_step(AP, PRINCIPAL, delay=0), _step(DISTRICT, delay=5)),
        repeat=2,
        ack_timeout_minutes=30,
    ),
    Policy(
        "missed-checks",
        frozenset({"check_missed"}),
        frozenset({"low"}),
        (_step(SSO, delay=0), _step(AP, delay=30)),
        repeat=0,
        ack_timeout_minutes=120,
    ),
    Policy(
        "student-wellbeing-high",
        WELLBEING,
        frozenset({"high"}),
        (
            _step(COUNSELOR, AP, delay=0),
            _step(PRINCIPAL, delay=15),
            _step(DISTRICT, delay=15),
        ),
        repeat=1,
        ack_timeout_minutes=60,
    ),
    Policy(
        "student-wellbeing",
        WELLBEING,
        frozenset({"medium"}),
        (
            _step(COUNSELOR, delay=0, when="school_hours"),
            _step(AP, delay=15),
            _step(PRINCIPAL, delay=30),
        ),
        repeat=1,
        ack_timeout_minutes=60,
    ),
    Policy(
        "high",
        frozenset({"*"}),
        frozenset({"high"}),
        (_step(SSO, AP, delay=0), _step(PRINCIPAL, delay=15), _step(DISTRICT, delay=15)),
        repeat=1,
        ack_timeout_minutes=60,
    ),
    Policy(
        "low",
        frozenset({"*"}),
        frozenset({"low"}),
        (_step(SSO, delay=0), _step(AP, delay=30)),
        repeat=0,
        ack_timeout_minutes=120,
    ),
    Policy(
        "default",
        frozenset({"*"}),
        frozenset({"medium"}),
        (_step(SSO, delay=0), _step(AP, delay=30), _step(PRINCIPAL, delay=60)),
        repeat=0,
        ack_timeout_minutes=120,
    ),
)

# No policy matches: the built-in fallback (lifecycle spec): [sso] at once, [principal] 15 min.
FALLBACK = Policy(
    "fallback",
    frozenset({"*"}),
    frozenset({"low", "medium", "high", "critical"}),
    (_step(SSO, delay=0), _step(PRINCIPAL, delay=15)),
    repeat=1,
    ack_timeout_minutes=60,
)

# The calendar (bell_schedule): school days mon-fri except these; school hours are the first
# period's start to the last period's end, school time.
TIMEZONE = "America/Chicago"
FIRST_BELL = time(7, 15)
LAST_BELL = time(15, 45)
NO_SCHOOL_DAYS = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-11-26",
        "2026-11-27",
        "2026-12-21",
        "2026-12-22",
        "2026-12-23",
        "2026-12-24",
        "2026-12-25",
        "2026-12-28",
        "2026-12-29",
        "2026-12-30",
        "2026-12-31",
        "2027-01-01",
    )
)
HEARTBEAT_LIMIT_MINUTES = 10
AUTO_CHECKOUT_AFTER_LAST_BELL_MINUTES = 60  # visitors.auto_checkout_margin_minutes
