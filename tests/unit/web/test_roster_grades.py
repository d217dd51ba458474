"""Students counted by grade for the console (services/web/roster.py): CEDS order, youngest
first, and the students whose grade the roster does not give counted last."""

from __future__ import annotations

from services.web.roster import GradeCount, grade_counts
from services.web.roster_store import search_key


def test_grades_are_counted_youngest_first_and_unknown_last() -> None:
    assert grade_counts(["12", None, "09", "KG", "12", "PK", None, "Other", "09", "12"]) == [
        GradeCount(grade="PK", students=1),
        GradeCount(grade="KG", students=1),
        GradeCount(grade="09", students=2),
        GradeCount(grade="12", students=3),
        GradeCount(grade="Other", students=1),
        GradeCount(grade=None, students=2),
    ]
    assert grade_counts([]) == []


def test_the_search_key_drops_case_accents_and_extra_spaces() -> None:
    assert search_key("  José   NÚÑEZ-Ortiz ") == "jose nunez-ortiz"
    assert search_key("Zoë Ångström") == "zoe angstrom"
