"""Request-reply for the channels that reach a phone: a person's browser push subscriptions
(`push_subscribe`, `push_unsubscribe`) and replies to alert texts (`sms_reply`). The acting
person is the subject's last token, which the server confines each user to."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lookout.contracts.alerts import (
    AckRequest,
    AlertStatus,
    PushSubscribeRequest,
    PushSubscriptions,
    PushUnsubscribeRequest,
    SmsReplyAction,
    SmsReplyRequest,
    SmsReplyResult,
)
from lookout.kernel.clock import Clock
from lookout.kernel.queries import Refused
from lookout.kernel.storage import lock_for_write
from lookout.school.config import SchoolConfig
from services.alerts import domain, notices
from services.alerts.escalation import Escalator
from services.alerts.handlers import AlertCommands
from services.alerts.store import AlertRepository, alerts, push_subscriptions, sms_numbers


class PhoneCommands:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        schools: Mapping[str, SchoolConfig],
        escalator: Escalator,
        commands: AlertCommands,
        clock: Clock,
        after_commit: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self.schools = schools
        self.escalator = escalator
        self.commands = commands
        self.clock = clock
        self.after_commit = after_commit

    def _person(self, school_id: str, person_id: str) -> None:
        school = self.schools.get(school_id)
        if school is None:
            raise Refused("school: not a school of this deployment")
        if person_id not in school.person_ids:
            raise Refused("person: not a person of this school")

    # -- push subscriptions -------------------------------------------------------------------

    async def push_subscribe(
        self, school_id: str, person_id: str, request: PushSubscribeRequest
    ) -> PushSubscriptions:
        """Keep this browser for this person (an endpoint is one browser: subscribing it
        again, by anyone, replaces the keys and the owner)."""
        self._person(school_id, person_id)
        s = push_subscriptions
        async with self.sessions.begin() as session:
            await lock_for_write(session, s)
            await session.execute(delete(s).where(s.c.endpoint == request.endpoint))
            await session.execute(
                insert(s).values(
                    school_id=school_id,
                    person_id=person_id,
                    endpoint=request.endpoint,
                    p256dh=request.p256dh,
                    auth=request.auth,
                    subscribed_at=self.clock.now(),
                )
            )
            return PushSubscriptions(
                browsers=await _browsers(session, school_id, person_id), changed=True
            )

    async def push_unsubscribe(
        self, school_id: str, person_id: str, request: PushUnsubscribeRequest
    ) -> PushSubscriptions:
        """Forget one of this person's browsers (another person's endpoint is left alone)."""
        self._person(school_id, person_id)
        s = push_subscriptions
        async with self.sessions.begin() as session:
            mine = (s.c.school_id == school_id) & (s.c.person_id == person_id)
            gone = await session.execute(delete(s).where(mine, s.c.endpoint == request.endpoint))
            return PushSubscriptions(
                browsers=await _browsers(session, school_id, person_id),
                changed=bool(gone.rowcount),  # type: ignore[attr-defined]
            )

    # -- text replies ---------------------------------------------------------------------------

    async def sms_reply(
        self, school_id: str, person_id: str, request: SmsReplyRequest
    ) -> SmsReplyResult:
        """`<n>a` acknowledges as this person (as `ack` does), `<n>e` fires the alert's next
        step now, `<n>c` answers that resolving needs the console (an outcome note)."""
        self._person(school_id, person_id)
        code = notices.parse_reply(request.code)
        if code is None:
            raise Refused("code: not a reply code such as 3a")
        async with self.sessions() as session:
            n = sms_numbers
            found = await session.scalar(
                select(n.c.alert_id).where(
                    n.c.school_id == school_id,
                    n.c.person_id == person_id,
                    n.c.number == code.number,
                )
            )
        if found is None:
            raise Refused(f"code: no alert has number {code.number} in your texts")
        alert_id = uuid.UUID(found)
        if code.action == "a":
            action = await self._acknowledge(school_id, person_id, alert_id)
        elif code.action == "e":
            action = await self._escalate(school_id, person_id, alert_id)
        else:
            action = await self._close(alert_id)
        message = notices.reply_message(code.number, action)
        return SmsReplyResult(alert_id=alert_id, action=action, message=message)

    async def _acknowledge(
        self, school_id: str, person_id: str, alert_id: uuid.UUID
    ) -> SmsReplyAction:
        try:
            await self.commands.ack(
                school_id, AckRequest(alert_id=alert_id, by_person_id=person_id)
            )
        except Refused:
            if await self._resolved(alert_id):
                return SmsReplyAction.ALREADY_CLOSED
            raise
        return SmsReplyAction.ACKNOWLEDGED

    async def _escalate(
        self, school_id: str, person_id: str, alert_id: uuid.UUID
    ) -> SmsReplyAction:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            await lock_for_write(session, alerts)  # the ticker may be firing it: after it
            repo = AlertRepository(session)
            alert = await repo.get(alert_id, lock=True)
            if alert is None or alert.school_id != school_id:
                raise Refused("code: no such alert in this school")
            state = alert.state
            if state.status is AlertStatus.RESOLVED:
                return SmsReplyAction.ALREADY_CLOSED
            if not notices.can_escalate(
                state.status, state.routing, state.step, len(alert.policy.steps)
            ):
                return SmsReplyAction.NO_FURTHER_STEP
            # Open again: whoever had acknowledged it no longer holds it (as a repeat clears it).
            await repo.set_state(
                alert_id,
                domain.escalate_now(state, now),
                acknowledged_at=None,
                acknowledged_by=None,
            )
            await repo.timeline(
                alert_id, now, "escalate_now", person_id=person_id, detail="by a text reply"
            )
            again = await repo.get(alert_id)
            assert again is not None
            await self.escalator.fire(session, again, now)
        self.after_commit()
        return SmsReplyAction.ESCALATED

    async def _close(self, alert_id: uuid.UUID) -> SmsReplyAction:
        if await self._resolved(alert_id):
            return SmsReplyAction.ALREADY_CLOSED
        return SmsReplyAction.NEEDS_CONSOLE

    async def _resolved(self, alert_id: uuid.UUID) -> bool:
        async with self.sessions() as session:
            status = await session.scalar(
                select(alerts.c.status).where(alerts.c.alert_id == str(alert_id))
            )
        return status == AlertStatus.RESOLVED.value


async def _browsers(session: AsyncSession, school_id: str, person_id: str) -> int:
    s = push_subscriptions
    n = await session.scalar(
        select(func.count()).where(s.c.school_id == school_id, s.c.person_id == person_id)
    )
    return int(n or 0)
