"""The weekly email's figures rolled up by building and floor (the school file's areas): each
area's windows planned, done and missed, its coverage and the concerns raised in its zones.
Pure: the zones' figures in, the areas' out (no broker, no database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from lookout.school.config import SchoolConfig


class ZoneFigures(Protocol):
    """What the roll-up reads of a zone's coverage line (domain.ZoneCoverage)."""

    @property
    def zone_id(self) -> str: ...
    @property
    def planned(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def missed(self) -> int: ...


@dataclass(frozen=True)
class AreaFigures:
    area_id: str
    name: str
    nested: bool  # inside another area (a floor or wing): indented under it
    planned: int
    done: int
    missed: int
    concerns: int

    @property
    def coverage(self) -> int | None:
        """Done of planned, a whole percentage rounded half up (as the zones')."""
        if not self.planned:
            return None
        ratio = Decimal(self.done) * 100 / Decimal(self.planned)
        return int(ratio.quantize(Decimal(1), ROUND_HALF_UP))


def by_area(
    school: SchoolConfig, zones: Sequence[ZoneFigures], concerns_by_zone: Mapping[str, int]
) -> list[AreaFigures]:
    """Every area with a window or a concern in the week, in the school file's area order."""
    tree = school.area_tree
    planned = tree.roll_up({z.zone_id: z.planned for z in zones})
    done = tree.roll_up({z.zone_id: z.done for z in zones})
    missed = tree.roll_up({z.zone_id: z.missed for z in zones})
    concerns = tree.roll_up(concerns_by_zone)
    return [
        AreaFigures(
            area_id=a.id,
            name=a.name,
            nested=a.parent is not None,
            planned=int(planned[a.id]),
            done=int(done[a.id]),
            missed=int(missed[a.id]),
            concerns=int(concerns[a.id]),
        )
        for a in school.areas
        if planned[a.id] or concerns[a.id]
    ]
