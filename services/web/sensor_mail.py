"""Email-to-event for sensors that only send email (Soter, Zeptive, HALO's email fallback): an
SMTP listener (aiosmtpd) the web service runs on its own event loop when LOOKOUT_SENSOR_MAIL_PORT
is set.

It takes mail to LOOKOUT_SENSOR_MAIL_TO only, from a school's `sensors.email_senders` only;
anyone else is refused at the SMTP level (550 with the reason) before a byte of the message is
read. The sensor is the one whose `name` the subject holds; the kind comes from keywords
(sensor_messages.py). Each message is published like an HTTP one and answered after the PubAck:
250 (stored or duplicate: the HALO's HTTP message of the same minute already made the event),
451 when JetStream does not answer (the sending server keeps the mail and retries: never lost).
Nothing of a mail but the sensor id and the reason is logged."""

from __future__ import annotations

import asyncio
import logging
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from lookout.contracts.sensors import SensorVendor
from lookout.kernel.settings import ConfigurationError, Settings
from services.web.deps import WebState
from services.web.sensor_ingress import SensorMetrics, Unavailable, publish
from services.web.sensor_messages import address, mail_event, parse_mail, sender_schools

log = logging.getLogger("lookout.web")

MAX_MESSAGE_BYTES = 256 * 1024  # an alert email is a few KiB; no attachments wanted
VENDOR = SensorVendor.EMAIL


class SensorMail:
    """aiosmtpd's handler: the sender and the recipient are checked as they are named, the
    message when it has arrived."""

    def __init__(self, state: WebState, metrics: SensorMetrics) -> None:
        self.state = state
        self.metrics = metrics
        self.to = address(state.settings.sensor_mail_to)

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        sender: str,
        mail_options: list[str],
    ) -> str:
        if not sender_schools(self.state.schools, sender):
            self.metrics.refused(VENDOR, "sender")
            return "550 5.7.1 Not an allowed sensor alert sender"
        envelope.mail_from = sender
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        recipient: str,
        rcpt_options: list[str],
    ) -> str:
        if address(recipient) != self.to:
            self.metrics.refused(VENDOR, "recipient")
            return "550 5.1.1 Not the sensor alert address"
        envelope.rcpt_tos.append(recipient)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        schools = sender_schools(self.state.schools, str(envelope.mail_from or ""))
        received_at = self.state.suite_clock.now()
        try:
            message = BytesParser(policy=policy.default).parsebytes(raw)
            if not isinstance(message, EmailMessage):  # policy.default makes one
                raise TypeError("not an email message")
            alert = parse_mail(schools, message, received_at)
        except LookupError:
            self.metrics.refused(VENDOR, "unknown_sensor")
            return "550 5.1.0 The subject names no sensor of the school file"
        except (ValueError, TypeError):
            self.metrics.refused(VENDOR, "malformed")
            return "550 5.6.0 The message cannot be read"
        event = mail_event(alert, received_at)
        try:
            outcome = await publish(self.state, event)
        except Unavailable:
            self.metrics.refused(VENDOR, "unavailable", alert.sensor.id)
            return "451 4.3.0 Event store unavailable, try again later"
        self.metrics.alerts.labels(VENDOR.value, outcome.value).inc()
        log.info(
            "event=sensor_message vendor=%s sensor=%s type=%s outcome=%s event_id=%s",
            VENDOR.value,
            alert.sensor.id,
            event.type,
            outcome.value,
            event.event_id,
        )
        return f"250 OK {outcome.value} {event.event_id}"


def check(settings: Settings) -> None:
    """A listener needs the address it accepts: refused at start-up, not at the first mail."""
    if settings.sensor_mail_port is not None and not address(settings.sensor_mail_to):
        raise ConfigurationError(
            "LOOKOUT_SENSOR_MAIL_TO: the address sensor alert emails go to is needed with "
            "LOOKOUT_SENSOR_MAIL_PORT"
        )


async def start(state: WebState, metrics: SensorMetrics) -> asyncio.AbstractServer | None:
    """Listen on LOOKOUT_SENSOR_MAIL_HOST:PORT on this event loop; None when no port is set."""
    settings = state.settings
    if settings.sensor_mail_port is None:
        return None
    check(settings)
    handler = SensorMail(state, metrics)

    def protocol() -> Any:
        return SMTP(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            hostname="lookout",
            ident="Lookout sensor mail",
            timeout=60,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        protocol, host=settings.sensor_mail_host, port=settings.sensor_mail_port
    )
    log.info(
        "event=sensor_mail_listening host=%s port=%s",
        settings.sensor_mail_host,
        settings.sensor_mail_port,
    )
    return server


async def stop(server: asyncio.AbstractServer | None) -> None:
    if server is None:
        return
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), timeout=5)
    except TimeoutError:
        log.warning("event=sensor_mail_stop_timeout")
