"""The school file's `areas:` section: buildings, floors and wings, each inside its parent, and
the zones placed in them (`Zone.area`), so status, hotspots and coverage roll up by any level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lookout.contracts.envelope import Token

Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]


class AreaKind(StrEnum):
    BUILDING = "building"
    FLOOR = "floor"
    WING = "wing"


class Area(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Token
    name: Name
    kind: AreaKind
    parent: Token | None = Field(
        default=None, description="The area it is part of (an area id of this file), or none."
    )


class AreaTree:
    """The areas of one school and the zones in them; built once the file is validated."""

    def __init__(self, areas: Sequence[Area], zone_areas: Iterable[tuple[str, str | None]]) -> None:
        """Check `areas` and the zones' `(zone id, area id)` pairs: the first fault raises a
        ValueError naming its field (duplicate id, unknown parent or area, a cycle)."""
        self.areas: dict[str, Area] = {}
        for i, area in enumerate(areas):
            if area.id in self.areas:
                raise ValueError(f"areas.{i}.id: duplicate area id {area.id!r}")
            self.areas[area.id] = area
        for i, area in enumerate(areas):
            if area.parent is not None and area.parent not in self.areas:
                raise ValueError(f"areas.{i}.parent: unknown area {area.parent!r}")
        for i, area in enumerate(areas):
            seen = [area.id]
            parent = area.parent
            while parent is not None:
                if parent in seen:
                    path = " → ".join([*seen, parent])
                    raise ValueError(f"areas.{i}.parent: areas form a cycle ({path})")
                seen.append(parent)
                parent = self.areas[parent].parent
        self.zone_area: dict[str, str] = {}
        self.zone_order: list[str] = []
        for i, (zone_id, area_id) in enumerate(zone_areas):
            self.zone_order.append(zone_id)
            if area_id is None:
                continue
            if area_id not in self.areas:
                raise ValueError(f"zones.{i}.area: unknown area {area_id!r}")
            self.zone_area[zone_id] = area_id

    def chain(self, zone_id: str) -> list[Area]:
        """The areas of a zone, innermost first (floor, then building); [] if it names none."""
        out: list[Area] = []
        area_id = self.zone_area.get(zone_id)
        while area_id is not None:
            area = self.areas[area_id]
            out.append(area)
            area_id = area.parent
        return out

    def zones_under(self, area_id: str) -> list[str]:
        """The zones in the area or any area inside it, in the school file's zone order."""
        return [z for z in self.zone_order if area_id in {a.id for a in self.chain(z)}]

    def roll_up(self, per_zone: Mapping[str, float]) -> dict[str, float]:
        """Each area's total of `per_zone` over the zones under it, in the file's area order;
        a zone counts once in each of its areas (its floor and its building)."""
        totals = dict.fromkeys(self.areas, 0.0)
        for zone_id, value in per_zone.items():
            for area in self.chain(zone_id):
                totals[area.id] += value
        return totals
