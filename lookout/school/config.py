"""The school configuration model: one YAML file per school, validated at start-up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from lookout.contracts.envelope import SchoolId, Token
from lookout.contracts.patrol import ConcernCategory, Severity
from lookout.school.areas import Area, AreaTree
from lookout.school.day_types import CalendarFeed, DayKind, DayType
from lookout.school.sensors import SchoolSensors
from lookout.school.staff_sign_in import StaffSignIn

Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneKind(StrEnum):
    BATHROOM = "bathroom"
    HALLWAY = "hallway"
    STAIRWELL = "stairwell"
    CAFETERIA = "cafeteria"
    ENTRANCE = "entrance"
    PARKING = "parking"
    GYM = "gym"
    LIBRARY = "library"
    OFFICE = "office"
    COURTYARD = "courtyard"
    OTHER = "other"


class Zone(Strict):
    id: Token
    name: Name
    kind: ZoneKind
    checkpoints: list[Token] = Field(min_length=1, description="Tag ids mounted in the zone.")
    area: Token | None = Field(default=None, description="The area it is in (areas: section).")


class PeriodKind(StrEnum):
    BEFORE_SCHOOL = "before_school"
    CLASS = "class"
    PASSING = "passing"
    LUNCH = "lunch"
    AFTER_SCHOOL = "after_school"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class Period(Strict):
    name: Token
    kind: PeriodKind
    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"period {self.name} ends at {self.end} before it starts")
        return self


class BellSchedule(Strict):
    school_days: list[Weekday] = Field(
        default_factory=lambda: [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
    )
    periods: list[Period] = Field(min_length=1)
    no_school_days: list[date] = Field(default_factory=list)
    alternates: dict[Token, Annotated[list[Period], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="Named alternate bell schedules (early release, late start) that a "
        "confirmed calendar day runs on instead of `periods`.",
    )

    @model_validator(mode="after")
    def _no_overlap(self) -> Self:
        _check_periods(self.periods, "")
        regular = {p.name for p in self.periods}
        for name, periods in self.alternates.items():
            _check_periods(periods, f"alternates.{name}: ")
            # Reports count by period name: an alternate shortens, moves or drops the
            # regular periods, it does not invent new ones.
            for period in periods:
                if period.name not in regular:
                    raise ValueError(
                        f"alternates.{name}: period {period.name!r} is not a regular period"
                    )
        return self


def _check_periods(periods: list[Period], where: str) -> None:
    names = [p.name for p in periods]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}period names must be unique")
    ordered = sorted(periods, key=lambda p: p.start)
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"{where}period {after.name} overlaps {before.name}")


class PatrolRule(Strict):
    """Check `zones` during the named periods/kinds, or inside a fixed daily window."""

    zones: list[Token] = Field(min_length=1)
    during: list[str] = Field(
        default_factory=list, description="Period kinds (passing, lunch…) or period names."
    )
    window: Annotated[str, StringConstraints(pattern=r"^\d\d:\d\d-\d\d:\d\d$")] | None = None
    every_minutes: int | None = Field(default=None, ge=1, le=600)
    grace_minutes: int = Field(default=5, ge=0, le=120)
    unannounced_checks: int = Field(default=0, ge=0, le=20)

    @model_validator(mode="after")
    def _has_when(self) -> Self:
        if not self.during and self.window is None:
            raise ValueError("a patrol rule needs `during` periods or a `window`")
        return self


class Role(StrEnum):
    SSO = "sso"
    ASSISTANT_PRINCIPAL = "assistant_principal"
    PRINCIPAL = "principal"
    COUNSELOR = "counselor"
    DISTRICT_SAFETY = "district_safety"
    FRONT_OFFICE = "front_office"
    ADMIN = "admin"


class NotifyChannel(StrEnum):
    """How a person is told of an alert (the bus notification to their clients is always sent)."""

    PUSH = "push"  # Web Push to every browser they subscribed
    SMS = "sms"  # a text to their `phone` (needs the deployment's SMS account)
    EMAIL = "email"  # to their `email`


class NotifyBy(Strict):
    """One channel of a person's rule, sent `after_minutes` after the escalation step reached
    them (unless the alert was acknowledged or resolved by then). Written as `push` for a
    channel at once, or `{channel: email, after_minutes: 2}`."""

    channel: NotifyChannel
    after_minutes: int = Field(default=0, ge=0, le=24 * 60)

    @model_validator(mode="before")
    @classmethod
    def _bare_channel(cls, value: object) -> object:
        return {"channel": value} if isinstance(value, str) else value


# A person without a rule for a severity is emailed at once, as before rules existed: a rule
# never reaches anyone less than that unless the school file says so for that person.
DEFAULT_NOTIFY: tuple[NotifyBy, ...] = (NotifyBy(channel=NotifyChannel.EMAIL),)

Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{7,14}$")]


class Person(Strict):
    id: Token
    name: Name
    roles: list[Role] = Field(min_length=1)
    email: EmailStr | None = None
    phone: Phone | None = Field(default=None, description="E.164, e.g. +15555550101 (for sms).")
    notify: dict[Severity, Annotated[list[NotifyBy], Field(min_length=1, max_length=3)]] = Field(
        default_factory=dict,
        description="Channels and delays by alert severity; a severity not listed: email at once.",
    )
    on_duty: list[Weekday] = Field(
        default_factory=lambda: [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
    )
    duty_hours: Annotated[str, StringConstraints(pattern=r"^\d\d:\d\d-\d\d:\d\d$")] | None = Field(
        default=None,
        description="`HH:MM-HH:MM` in school time on duty days; unset: on duty the whole day.",
    )
    on_duty_no_school_days: bool = Field(
        default=False,
        description="Also on duty on the bell schedule's no-school days (on-call district staff).",
    )

    @model_validator(mode="after")
    def _duty_window_ordered(self) -> Self:
        window = self.duty_window
        if window is not None and window[1] <= window[0]:
            raise ValueError(f"person {self.id}: duty_hours must end after they start")
        for severity, rule in self.notify.items():
            where = f"person {self.id}: notify.{severity.value}"
            channels = [by.channel for by in rule]
            if len(set(channels)) != len(channels):
                raise ValueError(f"{where}: a channel is listed twice")
            if NotifyChannel.SMS in channels and self.phone is None:
                raise ValueError(f"{where}: sms needs a phone")
            if NotifyChannel.EMAIL in channels and self.email is None:
                raise ValueError(f"{where}: email needs an email")
        return self

    def notify_rule(self, severity: Severity) -> tuple[NotifyBy, ...]:
        """How this person is told of an alert of this severity."""
        rule = self.notify.get(severity)
        if rule is None:
            return DEFAULT_NOTIFY if self.email is not None else ()
        return tuple(rule)

    def uses_sms(self) -> bool:
        return any(by.channel is NotifyChannel.SMS for rule in self.notify.values() for by in rule)

    @property
    def duty_window(self) -> tuple[time, time] | None:
        if self.duty_hours is None:
            return None
        start, end = self.duty_hours.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)


class StepWhen(StrEnum):
    ALWAYS = "always"
    SCHOOL_HOURS = "school_hours"
    AFTER_HOURS = "after_hours"


class EscalationStepConfig(Strict):
    targets: list[Token] = Field(min_length=1, description="Role names or person ids.")
    delay_minutes: int = Field(ge=0, le=24 * 60)
    when: StepWhen = StepWhen.ALWAYS


class EscalationPolicyConfig(Strict):
    name: Token
    categories: list[str] = Field(
        min_length=1, description="Concern categories or alert sources; `*` matches any."
    )
    severities: list[Severity] = Field(default_factory=lambda: list(Severity))
    steps: list[EscalationStepConfig] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=5)
    ack_timeout_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)


class ReportSchedule(Strict):
    weekday: Weekday = Weekday.FRI
    at: time = time(15, 0)
    recipients: list[Token] = Field(default_factory=list, description="Person ids.")


class WatchlistSource(Strict):
    """Where the visitors service screens sign-ins: a provider named in the
    `lookout.watchlist_providers` entry point group (`csv` and `http` ship)."""

    provider: Token = Field(
        default="csv",
        description="The watchlist provider: `csv` (the school's own file, the default), `http` "
        "(a screening service answering JSON) or one a package registers. Checked when the "
        "visitors service starts.",
    )
    csv_path: str | None = Field(
        default=None,
        description="The school's private watchlist CSV; a relative path is resolved against "
        "the directory of the school's YAML file.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="The provider's own settings (`http`: base_url, timeout_seconds, "
        "token_env), checked by the provider when the visitors service starts. Never a "
        "secret: a token is read from the environment.",
    )


class RosterSource(Strict):
    """Where the student roster comes from: a OneRoster CSV bundle (`lookout roster import`)."""

    student_reference: Literal["sourcedId", "identifier"] = Field(
        default="sourcedId",
        description="Which column of the bundle's users.csv is a student's reference in "
        "Lookout: the SIS's `sourcedId` or the school's own `identifier`.",
    )
    org: Token | None = Field(
        default=None,
        description="The school's org `sourcedId` in the bundle; unset: the bundle's only "
        "org of type `school`.",
    )


class VisitorPolicy(Strict):
    """How the visitors service treats visits at this school."""

    overdue_grace_minutes: int = Field(
        default=15, ge=0, le=240, description="After the expected departure, before `overdue`."
    )
    auto_checkout_margin_minutes: int = Field(
        default=60,
        ge=0,
        le=12 * 60,
        description="After the last bell period ends, visitors still signed in are checked out.",
    )
    retention_days: int = Field(
        default=365, ge=1, le=10 * 365, description="Visitor PII is purged this long after a visit."
    )
    match_threshold: float = Field(
        default=0.85, gt=0, le=1, description="Watchlist score from which sign-in is held."
    )
    always_allowed_zones: list[Token] = Field(
        default_factory=list,
        description="Zones every visitor may be seen in (entrance, main office) without being "
        "out of bounds.",
    )


class SchoolConfig(Strict):
    id: SchoolId
    name: Name
    timezone: str
    student_count: int = Field(ge=1, le=20_000)
    zones: list[Zone] = Field(min_length=1)
    areas: list[Area] = Field(default_factory=list, description="Buildings, floors and wings.")
    bell_schedule: BellSchedule
    patrol_plan: list[PatrolRule] = Field(default_factory=list)
    heartbeat_limit_minutes: int = Field(default=10, ge=1, le=240)
    concern_attention_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 14,
        description="An open concern older than this many hours is listed under the "
        "principal's console's 'Needs your attention'.",
    )
    student_records_retention_days: int = Field(
        default=365,
        ge=30,
        le=10 * 365,
        description="How long the patrol service keeps student references and note text: "
        "erased this many days after a concern is resolved, a contact or an observation "
        "logged; the facts (category, place, time, outcome) stay for the statistics.",
    )
    student_reference_pattern: Annotated[str, StringConstraints(min_length=1, max_length=200)] = (
        Field(
            default=r"S-[0-9]{1,12}",
            description="The school's student reference format (a regular expression the whole "
            "reference must match): `S-` and digits by default. Whatever it says, a reference "
            "is also an opaque token with a digit, never a name.",
        )
    )
    escalation_policies: list[EscalationPolicyConfig] = Field(default_factory=list)
    on_call: list[Token] = Field(
        default_factory=lambda: [Role.DISTRICT_SAFETY.value],
        description="Roles or person ids reached at once (those on duty at that moment) by a "
        "high or critical alert that no step of its policy can route to anyone on duty.",
    )
    people: list[Person] = Field(default_factory=list)
    reports: ReportSchedule = Field(default_factory=ReportSchedule)
    watchlist: WatchlistSource = Field(default_factory=WatchlistSource)
    roster: RosterSource = Field(default_factory=RosterSource)
    visitors: VisitorPolicy = Field(default_factory=VisitorPolicy)
    calendar: CalendarFeed | None = Field(
        default=None,
        description="The district's iCalendar feed, mapped to day types by keyword rules; a "
        "mapped date takes effect once an admin confirms it (`lookout calendar confirm`).",
    )
    # The confirmed day types by date, kept current by the service's calendar consumer (the
    # school file names none: they arrive as `school.<school>.day_type.*` events).
    _day_types: dict[date, DayType] = PrivateAttr(default_factory=dict)
    staff_sign_in: StaffSignIn = Field(
        default_factory=StaffSignIn,
        description="Sign-in with the district's Google Workspace or Microsoft Entra accounts "
        "(OpenID Connect), matched to people by their verified email.",
    )

    sensors: SchoolSensors = Field(
        default_factory=SchoolSensors,
        description="Vape, THC and sound sensors (HALO, Verkada, email): each alert becomes a "
        "zone check for the nearest on-duty SSO.",
    )

    def student_records_cutoff(self, now: datetime) -> datetime:
        """Student references and notes from before this moment are past the retention period
        (counted from a concern's or alert's resolution, a contact's or observation's time)."""
        return now - timedelta(days=self.student_records_retention_days)

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA zone name") from None
        zone_ids = [z.id for z in self.zones]
        if len(set(zone_ids)) != len(zone_ids):
            raise ValueError("zone ids must be unique")
        AreaTree(self.areas, [(z.id, z.area) for z in self.zones])
        owner: dict[str, str] = {}
        for z in self.zones:
            for tag in z.checkpoints:
                if tag in owner:
                    raise ValueError(
                        f"checkpoint tag {tag!r} is in zones {owner[tag]!r} and {z.id!r}; "
                        "a tag may belong to only one zone"
                    )
                owner[tag] = z.id
        period_words = {p.name for p in self.bell_schedule.periods} | set(PeriodKind)
        for i, rule in enumerate(self.patrol_plan):
            for zone in rule.zones:
                if zone not in zone_ids:
                    raise ValueError(f"patrol_plan.{i}: unknown zone {zone!r}")
            for word in rule.during:
                if word not in period_words:
                    raise ValueError(f"patrol_plan.{i}: {word!r} is no period name or kind")
        person_ids = {p.id for p in self.people}
        targets = person_ids | set(Role)
        known_categories = set(ConcernCategory) | {"*"} | _ALERT_SOURCES
        for i, policy in enumerate(self.escalation_policies):
            for cat in policy.categories:
                if cat not in known_categories:
                    raise ValueError(f"escalation_policies.{i}: unknown category {cat!r}")
            for j, step in enumerate(policy.steps):
                for target in step.targets:
                    if target not in targets:
                        raise ValueError(
                            f"escalation_policies.{i}.steps.{j}: unknown target {target!r}"
                        )
        for target in self.on_call:
            if target not in targets:
                raise ValueError(f"on_call: unknown target {target!r}")
        for zone in self.visitors.always_allowed_zones:
            if zone not in zone_ids:
                raise ValueError(f"visitors.always_allowed_zones: unknown zone {zone!r}")
        if self.calendar is not None:
            for i, day_rule in enumerate(self.calendar.rules):
                if day_rule.schedule and day_rule.schedule not in self.bell_schedule.alternates:
                    raise ValueError(
                        f"calendar.rules.{i}: unknown schedule {day_rule.schedule!r} "
                        "(none such under bell_schedule.alternates)"
                    )
        for rid in self.reports.recipients:
            if rid not in person_ids:
                raise ValueError(f"reports.recipients: unknown person {rid!r}")
        for sensor in self.sensors.devices:
            if sensor.zone not in zone_ids:
                raise ValueError(f"sensors: sensor {sensor.id}: unknown zone {sensor.zone!r}")
        try:
            re.compile(self.student_reference_pattern)
        except re.error:
            raise ValueError("student_reference_pattern: not a regular expression") from None
        return self

    @property
    def student_reference(self) -> re.Pattern[str]:
        return re.compile(self.student_reference_pattern)  # re keeps compiled patterns

    @cached_property
    def person_ids(self) -> frozenset[str]:
        return frozenset(p.id for p in self.people)

    @cached_property
    def zone_by_checkpoint(self) -> dict[str, str]:
        return {tag: z.id for z in self.zones for tag in z.checkpoints}

    @cached_property
    def area_tree(self) -> AreaTree:
        """Areas and the zones in them: `chain(zone)`, `zones_under(area)`, `roll_up(…)`."""
        return AreaTree(self.areas, [(z.id, z.area) for z in self.zones])

    @cached_property
    def zone_ids(self) -> frozenset[str]:
        return frozenset(z.id for z in self.zones)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def set_day_types(self, confirmed: dict[date, DayType]) -> None:
        """Replace the confirmed day types (the service's calendar table, read in full)."""
        self._day_types.clear()
        self._day_types.update(confirmed)

    def day_type(self, day: date) -> DayType | None:
        """The confirmed day type of `day`, if any."""
        return self._day_types.get(day)

    def confirmed_day_types(self) -> dict[date, DayType]:
        """Every confirmed day type, by date (a copy)."""
        return dict(self._day_types)

    def _no_school(self, day: date) -> bool:
        held = self._day_types.get(day)
        return day in self.bell_schedule.no_school_days or (
            held is not None and held.kind is DayKind.NO_SCHOOL
        )

    def periods_on(self, day: date) -> list[Period]:
        """The bell periods of `day`: its confirmed alternate schedule (early release, late
        start) or the usual one; none on a day without school."""
        if not self.is_school_day(day):
            return []
        held = self._day_types.get(day)
        if held is not None and held.schedule in self.bell_schedule.alternates:
            return self.bell_schedule.alternates[held.schedule]
        return self.bell_schedule.periods

    def is_school_day(self, day: date) -> bool:
        weekday = list(Weekday)[day.weekday()]
        return weekday in self.bell_schedule.school_days and not self._no_school(day)

    def school_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """First period start to last period end of `day` (aware, school time), or None."""
        if not self.is_school_day(day):
            return None
        periods = self.periods_on(day)
        start = min(p.start for p in periods)
        end = max(p.end for p in periods)
        return (
            datetime.combine(day, start, tzinfo=self.tz),
            datetime.combine(day, end, tzinfo=self.tz),
        )

    def in_school_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        hours = self.school_hours(local.date())
        return hours is not None and hours[0] <= local < hours[1]

    def on_duty(self, person: Person, moment: datetime) -> bool:
        """Whether `person` is on duty at `moment` by the duty roster (weekdays, hours, and
        no-school days, which only on-call staff work)."""
        local = moment.astimezone(self.tz)
        if list(Weekday)[local.weekday()] not in person.on_duty:
            return False
        if self._no_school(local.date()) and not person.on_duty_no_school_days:
            return False
        window = person.duty_window
        return window is None or window[0] <= local.time().replace(tzinfo=None) < window[1]

    def step_applies(self, when: StepWhen, moment: datetime) -> bool:
        """An escalation step's `when` against school hours (first to last bell on school
        days, school time; no-school days are after hours)."""
        if when is StepWhen.ALWAYS:
            return True
        in_hours = self.in_school_hours(moment)
        return in_hours if when is StepWhen.SCHOOL_HOURS else not in_hours

    def people_for(self, targets: Iterable[str]) -> list[Person]:
        """Targets (roles or person ids) as people, in file order, each once."""
        wanted = set(targets)
        return [p for p in self.people if p.id in wanted or wanted.intersection(p.roles)]

    def period_at(self, moment: datetime) -> Period | None:
        """The bell period a moment falls in (school time), or None outside the school day."""
        local = moment.astimezone(self.tz)
        if not self.is_school_day(local.date()):
            return None
        t = local.time()
        for period in self.periods_on(local.date()):
            if period.start <= t < period.end:
                return period
        return None


_ALERT_SOURCES = {
    "check_missed",
    "heartbeat_missed",
    "screening_flagged",
    "visitor_overdue",
    "visitor_out_of_bounds",
    "visitor_unaccounted",
    "follow_up_missed",
    "sensor_unchecked",
}
