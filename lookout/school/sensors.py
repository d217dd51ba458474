"""The school file's `sensors:` section: which vape/THC/sound sensors the school has, where each
is, how each is recognised in its vendor's messages, and how long the SSO has to check a zone
after one goes off."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from lookout.contracts.envelope import Token
from lookout.contracts.sensors import SensorVendor

Label = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
MAC_DIGITS = re.compile(r"^[0-9a-f]{12}$")


def mac_digits(value: str) -> str:
    """A MAC address as twelve lowercase hex digits, whatever separators the vendor writes."""
    return re.sub(r"[^0-9a-f]", "", value.lower())


class Sensor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Token
    vendor: SensorVendor
    zone: Token = Field(description="The zone it is mounted in (a zone id of this file).")
    mac: str | None = Field(
        default=None, description="HALO: the sensor's MAC address (its `%MAC%`)."
    )
    name: Label | None = Field(
        default=None,
        description="HALO and email: the sensor's name as it writes it (`%NAME%`, or in an "
        "alert email's subject).",
    )
    device_id: Label | None = Field(
        default=None, description="Verkada: the sensor's `device_id` in its webhooks."
    )

    @model_validator(mode="after")
    def _recognisable(self) -> Self:
        where = f"sensor {self.id}"
        if self.mac is not None and not MAC_DIGITS.match(mac_digits(self.mac)):
            raise ValueError(f"{where}: mac is not a MAC address")
        if self.vendor is SensorVendor.HALO and self.mac is None and self.name is None:
            raise ValueError(f"{where}: a HALO sensor needs its mac or name")
        if self.vendor is SensorVendor.VERKADA and self.device_id is None:
            raise ValueError(f"{where}: a Verkada sensor needs its device_id")
        if self.vendor is SensorVendor.EMAIL and self.name is None:
            raise ValueError(f"{where}: an email sensor needs the name its emails carry")
        return self


class SchoolSensors(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: list[Sensor] = Field(default_factory=list, max_length=500)
    check_minutes: int = Field(
        default=5,
        ge=1,
        le=120,
        description="After a sensor alert, the SSO has this long to scan a checkpoint of its "
        "zone; then the alert escalates by the school's `sensor_unchecked` policy.",
    )
    email_senders: list[EmailStr] = Field(
        default_factory=list,
        description="The addresses sensor alert emails come from; mail from anyone else is "
        "refused.",
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [s.id for s in self.devices]
        if len(set(ids)) != len(ids):
            raise ValueError("sensor ids must be unique")
        return self

    def by_id(self, sensor_id: str) -> Sensor | None:
        return next((s for s in self.devices if s.id == sensor_id), None)
