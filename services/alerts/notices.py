"""Who is told how, and what a push or a text says: pure rules, no I/O.

- An escalation step that reaches a person makes one delivery per channel of that person's rule
  for the alert's severity (lookout.school.config `Person.notify`; none for that severity:
  email at once), due at the step's time plus the channel's delay.
- A delivery not yet attempted that was meant for later (a delay) is cancelled when the alert
  is acknowledged or resolved before it goes out; at-once deliveries always go.
- Pushes and texts say words (severity, category, place, step), never a student or a note.
- A text gives the alert a number (1-999) among that person's texts; a reply `<n>a`
  acknowledges, `<n>e` escalates now, `<n>c` (close) points to the console, because resolving
  needs an outcome note.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from lookout.contracts.alerts import AlertStatus, RoutingState, SmsReplyAction
from lookout.contracts.patrol import Severity
from lookout.school.config import NotifyChannel, Person, SchoolConfig

SMS_LIMIT = 160  # one GSM-7 segment
MAX_SMS_NUMBER = 999


@dataclass(frozen=True)
class Delivery:
    """One channel to one person, due at `due_at`."""

    channel: NotifyChannel
    due_at: datetime

    def delayed(self, step_at: datetime) -> bool:
        return self.due_at > step_at


def deliveries(person: Person, severity: Severity, step_at: datetime) -> tuple[Delivery, ...]:
    """The deliveries an escalation step at `step_at` makes for `person`."""
    return tuple(
        Delivery(by.channel, step_at + timedelta(minutes=by.after_minutes))
        for by in person.notify_rule(severity)
    )


def sms_account_missing(schools: list[SchoolConfig], account_configured: bool) -> str | None:
    """Start-up: the first person whose rule texts while no SMS account is configured, as
    `school <id>: person <id>: notify uses sms …` (one line naming the field), or None."""
    if account_configured:
        return None
    for school in schools:
        for person in school.people:
            if person.uses_sms():
                return (
                    f"school {school.id}: person {person.id}: notify uses sms, but no SMS "
                    "account is configured (LOOKOUT_SMS_ACCOUNT_SID, LOOKOUT_SMS_AUTH_TOKEN, "
                    "LOOKOUT_SMS_FROM)"
                )
    return None


# --- what a push and a text say -------------------------------------------------------------


@dataclass(frozen=True)
class About:
    """What a push or a text may say about an alert: words, never students or notes."""

    alert_id: uuid.UUID
    severity: Severity
    category: str
    zone_id: str | None
    step: int  # 0-based, as stored


def _what(about: About) -> str:
    return about.category.replace("_", " ")


def _where(school: SchoolConfig, about: About) -> str | None:
    if about.zone_id is None:
        return None
    return {z.id: z.name for z in school.zones}.get(about.zone_id, about.zone_id)


def push_payload(school: SchoolConfig, about: About, ack_path: str | None) -> dict[str, str]:
    """The JSON a browser's service worker shows: `ack_url` is the signed acknowledge link's
    path (`/ack/<token>`, the email's token), empty for someone whose role does not
    acknowledge."""
    where = _where(school, about)
    title = f"{about.severity.value.upper()} alert: {_what(about)}"
    body = f"{where or 'No place given'}. Escalation step {about.step + 1}. {school.name}"
    return {
        "alert_id": str(about.alert_id),
        "title": title,
        "body": body,
        "ack_url": ack_path or "",
        "url": "/app",
        "tag": f"alert-{about.alert_id}",
    }


def sms_text(school: SchoolConfig, about: About, number: int, may_ack: bool) -> str:
    """e.g. `Lookout LHS: CRITICAL weapon, Gymnasium (step 1). Reply 3a ack, 3e escalate`."""
    where = _where(school, about)
    head = f"Lookout {school.id.upper()}: {about.severity.value.upper()} {_what(about)}"
    head += f", {where}" if where else ""
    head += f" (step {about.step + 1})."
    tail = f" Reply {number}a ack, {number}e escalate" if may_ack else " See the Lookout app"
    text = head + tail
    if len(text) > SMS_LIMIT:  # a long zone name: shorten the place, keep the reply codes
        text = head[: SMS_LIMIT - len(tail) - 3] + "..." + tail
    return text


def next_sms_number(last: int | None) -> int:
    """The number the next alert texted to a person gets: after the last one, 1 after 999
    (the oldest number is reused: by then its alert is long handled)."""
    return 1 if last is None or last >= MAX_SMS_NUMBER else last + 1


# --- replies --------------------------------------------------------------------------------

REPLY = re.compile(r"^([0-9]{1,3})([ace])$")


@dataclass(frozen=True)
class ReplyCode:
    number: int
    action: str  # a, c or e


def parse_reply(code: str) -> ReplyCode | None:
    found = REPLY.match(code.strip().lower())
    if found is None or not 1 <= int(found.group(1)) <= MAX_SMS_NUMBER:
        return None
    return ReplyCode(int(found.group(1)), found.group(2))


def reply_message(number: int, action: SmsReplyAction) -> str:
    """The text sent back for a reply (ids and words only)."""
    return {
        SmsReplyAction.ACKNOWLEDGED: f"Alert {number} acknowledged. Resolve it in the Lookout "
        "console with an outcome note once handled.",
        SmsReplyAction.ESCALATED: f"Alert {number} escalated: its next step is told now.",
        SmsReplyAction.NEEDS_CONSOLE: f"Alert {number}: closing needs an outcome note. Resolve "
        "it in the Lookout console.",
        SmsReplyAction.ALREADY_CLOSED: f"Alert {number} is already resolved.",
        SmsReplyAction.NO_FURTHER_STEP: f"Alert {number}: everyone its policy names was told; "
        f"no step is left. Reply {number}a to acknowledge, or resolve it in the console.",
    }[action]


def can_escalate(status: AlertStatus, routing: RoutingState, step: int, steps: int) -> bool:
    """`e` fires the next step now: not for a resolved alert or one past its last step."""
    return status is not AlertStatus.RESOLVED and not (
        routing is RoutingState.EXHAUSTED or step >= steps
    )
