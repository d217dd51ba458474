"""`query.<school>.patrol.plan`: the announced windows over a range of days, by each day's bell
(a confirmed early release), without the unannounced checks; a range over 31 days is refused."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from lookout.contracts.calendar import DayKind
from lookout.contracts.patrol_queries import PlanRequest
from lookout.school.config import SchoolConfig
from lookout.school.day_types import DayType
from services.patrol.plan_query import plan_windows
from tests.unit.patrol.test_day_types import TINY

MONDAY = date(2026, 11, 23)


async def test_the_plan_follows_each_days_bell_and_leaves_the_unannounced_out() -> None:
    data = copy.deepcopy(TINY)
    data["patrol_plan"] = [
        {"zones": ["bath-a"], "during": ["passing"], "grace_minutes": 3},
        {"zones": ["cafeteria"], "during": ["class"], "unannounced_checks": 2},
    ]
    school = SchoolConfig.model_validate(data)
    school.set_day_types({MONDAY + timedelta(days=1): DayType(DayKind.EARLY_RELEASE, "early")})
    req = PlanRequest(requested_by="sso-kim", date_from=MONDAY, date_to=MONDAY + timedelta(1))
    reply = await plan_windows(school, req)
    assert [
        (w.zone_id, w.zone_name, f"{w.start.astimezone(school.tz):%d %H:%M}",
         f"{w.end.astimezone(school.tz):%H:%M}", w.grace_minutes, w.period)
        for w in reply.windows
    ] == [
        ("bath-a", "Bathroom A", "23 08:35", "08:42", 3, "pass-1"),
        ("bath-a", "Bathroom A", "23 09:32", "09:39", 3, "pass-2"),
        ("bath-a", "Bathroom A", "24 08:15", "08:20", 3, "pass-1"),  # the early bell
        ("bath-a", "Bathroom A", "24 08:50", "08:55", 3, "pass-2"),
    ]  # fmt: skip


def test_a_plan_of_more_than_31_days_is_refused() -> None:
    PlanRequest(requested_by="sso-kim", date_from=MONDAY, date_to=MONDAY + timedelta(30))
    with pytest.raises(ValidationError, match="the range is longer than 31 days"):
        PlanRequest(requested_by="sso-kim", date_from=MONDAY, date_to=MONDAY + timedelta(31))
    with pytest.raises(ValidationError, match="date_to is before date_from"):
        PlanRequest(requested_by="sso-kim", date_from=MONDAY, date_to=MONDAY - timedelta(1))
