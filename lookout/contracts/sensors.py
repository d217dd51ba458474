"""Events from the school's environmental sensors (vape, THC, sound, tamper), as the web
service's sensor ingress makes them out of HALO, Verkada and email messages.

The actor is the sensor (`{"kind": "sensor", "id": <the school file's sensor id>}`): who acts
is what the ingress proved (a per-sensor token, a verified signature, an allowed sender), never
a field of the message. No student is ever named here: a sensor knows a zone and a reading.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from lookout.contracts.envelope import Event, Token


class SensorKind(StrEnum):
    """What the sensor detected, in the school's words (each vendor's reading mapped to one)."""

    VAPE = "vape"
    THC = "thc"
    LOUD_SOUND = "loud_sound"  # HALO's aggression / gunshot keywords, Verkada's noise level
    TAMPER = "tamper"
    OTHER = "other"


class SensorVendor(StrEnum):
    HALO = "halo"  # HALO Smart Sensor "external messaging" (HTTP set/reset strings)
    VERKADA = "verkada"  # Verkada `sensor_alert` webhooks, signed
    EMAIL = "email"  # a sensor that only sends email (Soter, Zeptive, HALO's fallback)


class SensorAlertRaised(Event):
    """A sensor went into alert (HALO "set", a Verkada alert without an end, an alert email).

    Its `event_id` is derived from the sensor's own alert (HALO: sensor, reading and the
    minute it was set; Verkada: its `alert_event_id`), so the same alert arriving twice — a
    retry, or the email a HALO sends besides its HTTP message — is one event (JetStream drops
    the duplicate by `Nats-Msg-Id`), and the patrol service folds a second alert of a sensor
    whose first is still unchecked into it."""

    type: Literal["sensor.alert.raised"]
    sensor_id: Token = Field(description="The sensor's id in the school file.")
    zone_id: Token = Field(description="The zone the school file places the sensor in.")
    kind: SensorKind
    vendor: SensorVendor


class SensorAlertCleared(Event):
    """The sensor's reading went back below its threshold (HALO "reset", a Verkada alert's
    end). Nothing is undone by it: the zone still needs its check."""

    type: Literal["sensor.alert.cleared"]
    sensor_id: Token
    zone_id: Token
    kind: SensorKind
    vendor: SensorVendor


# The namespace of sensor alert ids (uuid5), so each vendor's own alert id maps to one event id.
SENSOR_ALERT_NAMESPACE = uuid.UUID("3b0f6c1e-5a0b-4d7e-9f21-6c2b8f7d4e10")
