"""Play a plan against a running suite: publish its events to JetStream (`Nats-Msg-Id =
event_id`) and call the visitors service's front-office commands by request-reply, each action
when the clock reaches its time, and write down what was done (the ground truth).

Three ways to keep time (`pace`):
- `clock` (the default): wait until the shared clock (`LOOKOUT_CLOCK`, e.g. `…@x120@anchor`,
  the one the services run on) reaches each action's time;
- `drive`: the runner owns a settable clock (`ManualClock`) and moves it to each action's time;
  before time passes a moment that matters (a window deadline a scan must beat, a heartbeat's
  silence limit, a visit due to turn overdue) it awaits `settle()`, which lets in-process
  services catch up — the fast, exact way for tests;
- `asap`: no waiting at all; events carry their planned times, but the visitors service stamps
  sign-ins with its own clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError
from pydantic import BaseModel

from lookout.contracts.envelope import Actor, ActorKind, Event
from lookout.contracts.subjects import BY_MODEL, subject_of
from lookout.contracts.visitors import Screen, SignOut, VisitorSighted, VisitReply
from lookout.kernel.clock import Clock
from lookout.kernel.messaging import msg_id_headers
from lookout.kernel.nats_connect import NatsSettingsError, connect_options
from lookout.kernel.queries import acting_person, command_subject, request_body
from lookout.kernel.settings import Settings
from lookout.simulation.plan import (
    Action,
    AnswerScreening,
    Plan,
    Publish,
    SightVisitor,
    SignInVisitor,
    SignOutVisitor,
    TimerCheck,
)
from lookout.simulation.truth import TruthRecorder

log = logging.getLogger("lookout.simulation")

Pace = Literal["clock", "drive", "asap"]
PACES: tuple[str, ...] = ("clock", "drive", "asap")
PUBLISH_ATTEMPTS = 3
NO_RESPONDERS_PAUSE = 0.5  # seconds, doubling: a service restarting answers again
NO_RESPONDERS_RETRIES = 4


class SimulationError(Exception):
    """The run cannot go on (NATS unreachable, no stream, no visitors service); one line."""


class SettableClock(Clock, Protocol):
    def set(self, moment: datetime) -> None: ...


@dataclass(frozen=True)
class ActionOutcome:
    """What one action did, for a live feed: ids, zones, badges — never names, notes or
    student references."""

    index: int
    action: Action
    done_at: datetime  # the clock when it ran
    ok: bool
    detail: str

    def line(self, tz: ZoneInfo | None = None) -> str:
        at = self.action.at.astimezone(tz or UTC)
        mark = "" if self.ok else "FAILED "
        detail = f" -> {self.detail}" if self.detail else ""
        return f"{at:%a %H:%M:%S} {mark}{self.action.describe()}{detail}"


OnAction = Callable[[ActionOutcome], Awaitable[None] | None]
Settle = Callable[[], Awaitable[None]]
# Drive mode: awaited before the clock moves to a new moment, with that moment; a driver that
# knows of other deadlines (escalation steps) stops and settles at them first.
BeforeMove = Callable[[datetime], Awaitable[None]]


async def run_simulation(
    settings: Settings,
    plan: Plan,
    clock: Clock,
    truth_path: Path | None,
    on_action: OnAction | None = None,
    *,
    pace: Pace = "clock",
    settle: Settle | None = None,
    request_timeout: float = 10.0,
    before_move: BeforeMove | None = None,
) -> dict[str, Any]:
    """Run `plan` against the suite at `settings.nats_servers()` and return the ground truth
    (also written to `truth_path` as JSON, even when the run stops early: then `complete` is
    false). `on_action` (sync or async) is called after every action, for a live feed.

    Drive mode only: `settle()` is awaited where the services must catch up (before time passes
    a pending deadline, at each TimerCheck, at the start and the end); `before_move(target)` is
    awaited before the clock moves forward to `target` (after that settle), for a driver that
    knows other deadlines (escalation steps) and stops at them itself."""
    if pace not in PACES:
        raise SimulationError(f"pace: one of {', '.join(PACES)}, not {pace!r}")
    if pace == "drive" and not callable(getattr(clock, "set", None)):
        raise SimulationError("pace drive needs a settable clock (ManualClock)")
    if pace == "clock" and plan.actions and clock.now() > plan.actions[-1].at:
        raise SimulationError(
            f"the clock ({clock.now().isoformat(timespec='seconds')}) is already past the "
            f"plan's last action ({plan.actions[-1].at.isoformat(timespec='seconds')})"
        )
    nc = await _connect(settings)
    recorder = TruthRecorder(plan, pace, clock)
    runner = _Runner(plan, clock, nc, recorder, pace, settle, request_timeout)
    runner.before_move = before_move
    tz = ZoneInfo(plan.timezone)
    try:
        if pace == "drive":
            await runner.move_to(plan.begins_at, force_settle=True)
        for index, action in enumerate(plan.actions):
            await runner.reach(action)
            outcome = await runner.execute(index, action)
            if outcome is None:
                continue
            if not outcome.ok:
                log.warning("event=simulation_action_failed %s", outcome.line(tz))
            if on_action is not None:
                result = on_action(outcome)
                if inspect.isawaitable(result):
                    await result
        if pace == "drive":
            await runner.move_to(plan.ends_at, force_settle=True)
        recorder.complete = True
    except SimulationError as exc:
        exc.truth_path = truth_path  # type: ignore[attr-defined]
        raise
    finally:
        recorder.finish()
        if truth_path is not None:
            write_truth(truth_path, recorder.truth())
        # Closing a broken connection must not hide the real error.
        with contextlib.suppress(Exception):
            await nc.close()
    return recorder.truth()


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


async def _connect(settings: Settings) -> nats.NATS:
    url = settings.nats_servers()

    async def _quiet(_exc: Exception) -> None:
        return None

    try:
        options = connect_options(settings)
    except NatsSettingsError as exc:
        raise SimulationError(str(exc)) from None
    try:
        # Fail fast when nothing answers (a reconnecting client would retry for a while)…
        probe = await nats.connect(
            url,
            connect_timeout=3,
            allow_reconnect=False,
            max_reconnect_attempts=1,  # 0 would mean "retry forever" on the first connect
            reconnect_time_wait=0.1,
            error_cb=_quiet,
            **options,
        )
        await probe.close()
        # …then ride out a NATS restart during the run.
        return await nats.connect(
            url,
            connect_timeout=3,
            max_reconnect_attempts=60,
            reconnect_time_wait=0.5,
            error_cb=_quiet,
            **options,
        )
    except Exception:
        raise SimulationError(f"cannot reach NATS at {url}") from None


@dataclass
class _Visit:
    visit_id: uuid.UUID | None = None
    badge_number: str | None = None
    status: str | None = None


class _Runner:
    def __init__(
        self,
        plan: Plan,
        clock: Clock,
        nc: nats.NATS,
        recorder: TruthRecorder,
        pace: Pace,
        settle: Settle | None,
        request_timeout: float,
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.nc = nc
        self.js = nc.jetstream(timeout=request_timeout)
        self.recorder = recorder
        self.pace = pace
        self.settle = settle
        self.request_timeout = request_timeout
        self.visits: dict[str, _Visit] = {}
        self.pending: list[datetime] = []  # moments the services must have caught up by
        self.counts: Counter[str] = Counter()
        self.before_move: BeforeMove | None = None

    # --- time -------------------------------------------------------------------------------

    async def reach(self, action: Action) -> None:
        if self.pace == "asap":
            return
        if self.pace == "drive":
            await self.move_to(action.at, force_settle=isinstance(action, TimerCheck))
            return
        await _wait_for(self.clock, action.at)

    async def move_to(self, moment: datetime, force_settle: bool = False) -> None:
        """Drive mode: let the services catch up before time passes a moment that matters,
        then move the clock (never backwards)."""
        if moment > self.clock.now():
            if self.pending and min(self.pending) <= moment:
                await self._settle()  # what was published lands before its deadline passes
            if self.before_move is not None:
                await self.before_move(moment)
            self.clock.set(moment)  # type: ignore[attr-defined]
        if force_settle:
            await self._settle()

    async def _settle(self) -> None:
        self.pending.clear()
        if self.settle is not None:
            await self.settle()

    # --- actions ----------------------------------------------------------------------------

    async def execute(self, index: int, action: Action) -> ActionOutcome | None:
        if isinstance(action, TimerCheck):
            return None
        if isinstance(action, Publish):
            return await self._publish(index, action, action.event)
        if isinstance(action, SightVisitor):
            visit = self.visits.get(action.visit)
            if visit is None or visit.badge_number is None:
                return self._skipped(index, action, f"visit {action.visit} has no badge")
            event = VisitorSighted(
                event_id=action.event_id,
                type=VisitorSighted.event_type(),
                school_id=self.plan.school_id,
                occurred_at=action.at,
                actor=Actor(kind=ActorKind.SSO_DEVICE, id=action.device_id),
                badge_number=visit.badge_number,
                zone_id=action.zone_id,
            )
            return await self._publish(index, action, event)
        if isinstance(action, SignInVisitor):
            return await self._sign_in(index, action)
        if isinstance(action, AnswerScreening):
            return await self._screen(index, action)
        return await self._sign_out(index, action)

    async def _publish(self, index: int, action: Action, event: Event) -> ActionOutcome:
        spec = BY_MODEL[type(event)]
        subject = subject_of(event)
        body = event.model_dump_json().encode()
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                ack = await self.js.publish(
                    subject, body, headers=msg_id_headers(event), stream=spec.stream
                )
                break
            except NoRespondersError:
                raise SimulationError(
                    f"no JetStream stream takes {subject} (are the services up?)"
                ) from None
            except NatsTimeoutError:
                # The same event id again is safe: JetStream drops a duplicate.
                if attempt == PUBLISH_ATTEMPTS:
                    raise SimulationError(
                        f"no acknowledgement from JetStream for {subject} after {attempt} tries"
                    ) from None
            except APIError as exc:
                raise SimulationError(
                    f"JetStream refused {subject}: {exc.description or exc}"
                ) from None
        done_at = self.clock.now()
        if isinstance(action, Publish) and action.settle_by is not None:
            self.pending.append(action.settle_by)
        self.recorder.published(event, subject, ack.stream, ack.seq, bool(ack.duplicate), done_at)
        if isinstance(action, SightVisitor):
            self.recorder.sighted(action, event.event_id, done_at)
        detail = f"{ack.stream}#{ack.seq}" + (" (duplicate)" if ack.duplicate else "")
        return ActionOutcome(index, action, done_at, True, detail)

    async def _request(self, name: str, request: BaseModel) -> tuple[dict[str, Any] | None, str]:
        """Send a front-office command as the staff member it names (the subject's last token);
        (result, "") or (None, the refusal)."""
        subject = command_subject(self.plan.school_id, "visitors", name, acting_person(request))
        body = request_body(request)
        absent = 0
        attempt = 0
        while True:
            try:
                reply = await self.nc.request(subject, body, timeout=self.request_timeout)
                break
            except NoRespondersError:
                # Restarting (migrations included), or reconnecting after a broker restart:
                # give it a moment, 0.5 + 1 + 2 + 4 s in all.
                absent += 1
                if absent > NO_RESPONDERS_RETRIES:
                    raise SimulationError(
                        f"the visitors service is not answering on {subject}"
                    ) from None
                await asyncio.sleep(NO_RESPONDERS_PAUSE * 2 ** (absent - 1))
            except NatsTimeoutError:
                attempt += 1
                # sign_in (same request_id) and sign_out are idempotent; a repeated screening
                # answer is refused as "not pending" and recorded as such.
                if attempt == 3:
                    raise SimulationError(
                        f"no reply from the visitors service on {subject} after {attempt} tries"
                    ) from None
        try:
            answer = json.loads(reply.data)
        except ValueError:
            return None, "unreadable reply"
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error", "refused") if isinstance(answer, dict) else "refused"
            return None, str(error)
        return dict(answer["result"]), ""

    async def _command(
        self, index: int, action: Action, name: str, request: BaseModel
    ) -> tuple[datetime, VisitReply | ActionOutcome]:
        """A front-office command: when it came back and the visit's reply, or, when refused,
        the failed outcome (recorded)."""
        result, error = await self._request(name, request)
        done_at = self.clock.now()
        if result is None:
            self.recorder.error(index, action, error, done_at)
            return done_at, ActionOutcome(index, action, done_at, False, error)
        return done_at, VisitReply.model_validate(result)

    async def _sign_in(self, index: int, action: SignInVisitor) -> ActionOutcome:
        done_at, reply = await self._command(index, action, "sign_in", action.request)
        if isinstance(reply, ActionOutcome):
            return reply
        self.visits[action.visit] = _Visit(reply.visit_id, reply.badge_number, reply.status.value)
        self.recorder.signed_in(action, reply, done_at)
        detail = f"visit {str(reply.visit_id)[:8]} {reply.status.value}"
        if reply.badge_number:
            detail += f" badge {reply.badge_number}"
        if reply.possible_matches:
            detail += f" ({len(reply.possible_matches)} possible watchlist match)"
        return ActionOutcome(index, action, done_at, True, detail)

    async def _screen(self, index: int, action: AnswerScreening) -> ActionOutcome:
        visit = self.visits.get(action.visit)
        if visit is None or visit.visit_id is None:
            return self._skipped(index, action, f"visit {action.visit} was not signed in")
        if visit.status != "pending_screening":
            # A re-run of the same plan: the sign-in (same request id) came back decided.
            done_at = self.clock.now()
            self.recorder.screened(action, visit.status, visit.badge_number, done_at)
            return ActionOutcome(index, action, done_at, True, f"already {visit.status}")
        request = Screen(
            visit_id=visit.visit_id,
            watchlist_entry_id=action.watchlist_entry_id,
            answer=action.answer,
            decided_by=action.decided_by,
        )
        done_at, reply = await self._command(index, action, "screen", request)
        if isinstance(reply, ActionOutcome):
            return reply
        visit.status = reply.status.value
        visit.badge_number = reply.badge_number
        self.recorder.screened(action, reply.status.value, reply.badge_number, done_at)
        return ActionOutcome(index, action, done_at, True, f"visit {reply.status.value}")

    async def _sign_out(self, index: int, action: SignOutVisitor) -> ActionOutcome:
        visit = self.visits.get(action.visit)
        if visit is None or visit.visit_id is None or visit.badge_number is None:
            return self._skipped(index, action, f"visit {action.visit} was not admitted")
        request = SignOut(visit_id=visit.visit_id, signed_out_by=action.signed_out_by)
        done_at, reply = await self._command(index, action, "sign_out", request)
        if isinstance(reply, ActionOutcome):
            return reply
        visit.status = reply.status.value
        self.recorder.signed_out(action, reply, done_at)
        return ActionOutcome(index, action, done_at, True, f"badge {visit.badge_number} out")

    def _skipped(self, index: int, action: Action, why: str) -> ActionOutcome:
        done_at = self.clock.now()
        self.recorder.error(index, action, f"skipped: {why}", done_at)
        return ActionOutcome(index, action, done_at, False, f"skipped: {why}")


async def _wait_for(clock: Clock, moment: datetime) -> None:
    """Sleep until `clock` reaches `moment` (a scaled clock: the wall time that takes)."""
    while True:
        now = clock.now()
        if now >= moment:
            return
        speed = float(getattr(clock, "speed", 1.0))
        await asyncio.sleep(min((moment - now).total_seconds() / speed, 5.0))


def wall_seconds_until(clock: Clock, moment: datetime) -> float:
    """How long in wall time until `clock` reaches `moment` (0 if it has)."""
    ahead = (moment - clock.now()).total_seconds()
    return max(0.0, ahead / float(getattr(clock, "speed", 1.0)))
