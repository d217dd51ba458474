"""The school file's optional `concern_attention_hours`: how old an open concern is before the
principal's console lists it under "Needs your attention" (24 by default, 1 to 336)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lookout.kernel.settings import load_school
from lookout.school.config import SchoolConfig
from tests.unit.test_school_config import load_error, write_school

__all__ = ["write_school"]  # the fixture, imported for pytest


def test_the_example_school_lists_concerns_open_over_a_day(school: SchoolConfig) -> None:
    assert school.concern_attention_hours == 24


def test_a_school_sets_its_own_age(write_school: Callable[..., Path]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["concern_attention_hours"] = 4

    assert load_school(write_school(edit)).concern_attention_hours == 4


@pytest.mark.parametrize("hours", [0, 337, "a day"])
def test_an_age_out_of_bounds_is_refused_naming_the_field(
    write_school: Callable[..., Path], hours: Any
) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["concern_attention_hours"] = hours

    path = write_school(edit)
    assert load_error(path).startswith(f"{path}: concern_attention_hours: ")
