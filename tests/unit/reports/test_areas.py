"""The weekly email's "By building and floor": the scripted week (scripted_week.py) rolled up by
the example school's areas. Its windows: bathroom 1N boys 4 planned, 3 done (2 on time, 1
late), 1 missed; the east stairwell 2, 1, 1; the cafeteria 3, 3, 0. Its concerns: bathroom 1N
boys 2, hallway 1N 1, cafeteria 1 (and one with no zone). The stairwell is in the Main
building, the others on its 1st floor; the 2nd floor, the Gym building and the Grounds have
neither a window nor a concern and are not listed."""

from __future__ import annotations

from lookout.kernel.settings import Settings
from lookout.school.config import SchoolConfig
from services.reports.mailer import Summaries
from tests.unit.reports import scripted_week as sw
from tests.unit.reports.test_summary import load, sessions

__all__ = ["sessions"]  # fixture


async def test_the_week_by_building_and_floor(sessions, school: SchoolConfig) -> None:  # type: ignore[no-untyped-def]
    await load(sessions, school, with_focus=False)
    summaries = Summaries({school.id: school}, Settings(web_base_url="https://lookout.example.org"))
    async with sessions() as session:
        rendered = await summaries.render(session, school.id, sw.WEEK, with_charts=False)
    found = sw.parse_html(rendered.html)
    assert {k: v for k, v in found.items() if k.startswith("area.")} == {
        # Main building: 4 + 2 + 3 planned; 3 + 1 + 3 done, 78% (7 / 9); 2 + 1 + 1 concerns.
        "area.main.planned": "9",
        "area.main.done": "7",
        "area.main.missed": "2",
        "area.main.coverage": "78%",
        "area.main.concerns": "4",
        # Its 1st floor: the bathroom and the cafeteria, 6 / 7 = 85.7 → 86%.
        "area.main-1.planned": "7",
        "area.main-1.done": "6",
        "area.main-1.missed": "1",
        "area.main-1.coverage": "86%",
        "area.main-1.concerns": "4",
    }
    lines = rendered.text.splitlines()
    start = lines.index("BY BUILDING AND FLOOR (planned / done / missed / coverage / concerns)")
    assert lines[start + 1 : start + 3] == [
        "Main building: 9 / 7 / 2 / 78% / 4",
        "  Main building, 1st floor: 7 / 6 / 1 / 86% / 4",
    ]
