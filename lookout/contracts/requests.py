"""The request catalogue: every command and query a service answers over NATS request-reply.

A request subject is `<kind>.<school_id>.<service>.<name>.<person>`: the last token is who acts,
and each person's NATS user may publish only subjects ending in their own id
(lookout/deploy/nats.py), so a service takes the acting person from the subject, never from
the body (lookout/kernel/queries.py). Request subjects lie outside every stream's subjects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from lookout.contracts import alerts, reports, visitors
from lookout.contracts.patrol_queries import QUERIES


@dataclass(frozen=True)
class RequestSpec:
    """One command or query: its subject's parts and its request model."""

    kind: Literal["command", "query"]
    service: str
    name: str
    model: type[BaseModel]

    def subject(self, school_id: str, person: str) -> str:
        return f"{self.kind}.{school_id}.{self.service}.{self.name}.{person}"

    @property
    def wildcard(self) -> str:
        """Every school and person (what the service subscribes to)."""
        return self.subject("*", "*")


REQUESTS: tuple[RequestSpec, ...] = (
    *(RequestSpec("query", "patrol", q.name, q.request) for q in QUERIES),
    RequestSpec("command", "visitors", "sign_in", visitors.SignIn),
    RequestSpec("command", "visitors", "sign_out", visitors.SignOut),
    RequestSpec("command", "visitors", "screen", visitors.Screen),
    RequestSpec("query", "visitors", "roster", visitors.Roster),
    RequestSpec("query", "visitors", "held", visitors.Held),
    RequestSpec("query", "visitors", "end_of_day", visitors.EndOfDay),
    RequestSpec("command", "visitors", "drill_start", visitors.DrillStart),
    RequestSpec("command", "visitors", "drill_account", visitors.DrillAccount),
    RequestSpec("command", "visitors", "drill_end", visitors.DrillEnd),
    RequestSpec("query", "visitors", "drill", visitors.DrillQuery),
    RequestSpec("command", "alerts", "ack", alerts.AckRequest),
    RequestSpec("command", "alerts", "resolve", alerts.ResolveRequest),
    RequestSpec("query", "alerts", "show", alerts.ShowRequest),
    RequestSpec("query", "alerts", "list", alerts.ListRequest),
    RequestSpec("command", "alerts", "push_subscribe", alerts.PushSubscribeRequest),
    RequestSpec("command", "alerts", "push_unsubscribe", alerts.PushUnsubscribeRequest),
    RequestSpec("command", "alerts", "sms_reply", alerts.SmsReplyRequest),
    RequestSpec("query", "reports", "weekly", reports.WeeklyPreviewRequest),
    RequestSpec("query", "reports", "archive", reports.ArchiveRequest),
    RequestSpec("query", "reports", "sent_copy", reports.SentCopyRequest),
    RequestSpec("command", "reports", "send", reports.SendRequest),
    RequestSpec("command", "reports", "rebuild", reports.RebuildRequest),
)
