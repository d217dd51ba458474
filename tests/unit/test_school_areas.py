"""Areas of the school file (buildings, floors, wings): the example's tree, the one-line refusals
of a broken tree at start-up, and the roll-up of per-zone figures by any level."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout.kernel.settings import EXAMPLE_SCHOOL, SchoolConfigError, load_school
from lookout.school.areas import Area, AreaKind, AreaTree

EXAMPLE: dict[str, Any] = yaml.safe_load(EXAMPLE_SCHOOL.read_text(encoding="utf-8"))


def _tree() -> AreaTree:
    areas = [
        Area(id="main", name="Main", kind=AreaKind.BUILDING),
        Area(id="main-1", name="Main 1", kind=AreaKind.FLOOR, parent="main"),
        Area(id="main-1-east", name="East wing", kind=AreaKind.WING, parent="main-1"),
        Area(id="gym", name="Gym", kind=AreaKind.BUILDING),
    ]
    zones = [("bath-a", "main-1-east"), ("hall-a", "main-1"), ("stair", "main"), ("lot", None)]
    return AreaTree(areas, zones)


def test_chain_innermost_first() -> None:
    tree = _tree()
    assert [a.id for a in tree.chain("bath-a")] == ["main-1-east", "main-1", "main"]
    assert [a.id for a in tree.chain("stair")] == ["main"]
    assert tree.chain("lot") == []


def test_zones_under_any_level() -> None:
    tree = _tree()
    assert tree.zones_under("main") == ["bath-a", "hall-a", "stair"]
    assert tree.zones_under("main-1") == ["bath-a", "hall-a"]
    assert tree.zones_under("main-1-east") == ["bath-a"]
    assert tree.zones_under("gym") == []


def test_roll_up_counts_a_zone_in_each_of_its_areas() -> None:
    totals = _tree().roll_up({"bath-a": 3, "hall-a": 2, "stair": 1, "lot": 7})
    assert totals == {"main": 6.0, "main-1": 5.0, "main-1-east": 3.0, "gym": 0.0}


def test_example_school_buildings_and_floors() -> None:
    school = load_school(EXAMPLE_SCHOOL)
    tree = school.area_tree
    assert [a.id for a in tree.chain("bath-2s-girls")] == ["main-2", "main"]
    assert tree.zones_under("gym-building") == [
        "bath-gym-boys",
        "bath-gym-girls",
        "gym",
        "entrance-gym",
    ]
    assert tree.zones_under("grounds") == ["courtyard", "parking-student", "parking-staff"]
    assert len(tree.zones_under("main")) == 16
    assert (
        len(tree.zones_under("main-1")) == 9
    )  # 3 bathrooms, 2 halls, cafeteria, office, 2 entrances
    assert len(tree.zones_under("main-2")) == 5


def _load_error(tmp_path: Path, edit: Any) -> str:
    data = copy.deepcopy(EXAMPLE)
    edit(data)
    path = tmp_path / "school.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(SchoolConfigError) as info:
        load_school(path)
    return str(info.value).removeprefix(f"{path}: ")


def test_unknown_parent(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["areas"][1]["parent"] = "annex"

    assert _load_error(tmp_path, edit) == "areas.1.parent: unknown area 'annex'"


def test_unknown_area_of_a_zone(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["zones"][3]["area"] = "main-3"

    assert _load_error(tmp_path, edit) == "zones.3.area: unknown area 'main-3'"


def test_duplicate_area_id(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["areas"][4]["id"] = "main"

    assert _load_error(tmp_path, edit) == "areas.4.id: duplicate area id 'main'"


def test_cycle(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["areas"][0]["parent"] = "main-2"  # main → main-2 → main

    assert _load_error(tmp_path, edit) == (
        "areas.0.parent: areas form a cycle (main → main-2 → main)"
    )


def test_unknown_kind(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["areas"][0]["kind"] = "campus"

    assert _load_error(tmp_path, edit).startswith("areas.0.kind: Input should be 'building'")
