"""The front desk (role `front_office`): sign visitors in (a licence's barcode read in the
browser, or typed), answer a held sign-in's screening, print the badge, sign visitors out by
badge QR or number, and the live on-site roster. Asked of the visitors service over its
request-reply subjects (`command|query.<school>.visitors.<name>.<person>`), the person being
the signed-in caller, never a field the browser sends.

The browser reads the barcode and sends only the fields a sign-in needs (names, date of birth,
ID type, the ID number's last 4, the card's expiry): the barcode's text never reaches the
server. A badge's QR code carries a token signed here (badges.py); `POST /api/v1/badges/check`
tells the SSO's phone whether a scanned badge is genuine, current and of its school."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sse_starlette import EventSourceResponse

from lookout.contracts.bounds import DateOfBirth, PersonName, RequestDate
from lookout.contracts.envelope import ShortText, Token
from lookout.contracts.visitors import (
    EndOfDay,
    EndOfDayReply,
    Held,
    HeldReply,
    IdLast4,
    IdType,
    PossibleMatch,
    Roster,
    RosterEntry,
    RosterReply,
    Screen,
    ScreeningAnswer,
    SignIn,
    SignOut,
    UnaccountedEntry,
    VisitorType,
    VisitReply,
    VisitStatus,
)
from lookout.kernel.queries import command_subject, query_subject
from lookout.school.config import SchoolConfig
from lookout.school.permissions import may_request
from services.web import asking
from services.web.badges import BadgeClaims, BadgeStatus, badge_secret, is_token, sign, verify
from services.web.deps import ApiCaller, Caller, CsrfCaller, PageCaller, State, WebState
from services.web.domain import may_send_event
from services.web.live import PING_SECONDS, Hub, stream_events
from services.web.pages import desk_context, page_context, render
from services.web.problems import Problem

router = APIRouter(tags=["front desk"])

ASK_TIMEOUT_SECONDS = 5.0  # a clerk with a visitor at the counter waits for us: fail fast
M = TypeVar("M", bound=BaseModel)


# --- who may ----------------------------------------------------------------------------------


def is_desk(caller: Caller) -> bool:
    return may_request(caller.person.roles, "command", "visitors")


async def desk_reader(caller: ApiCaller) -> Caller:
    """A signed-in person whose role asks the visitors service (the front office)."""
    if not may_request(caller.person.roles, "query", "visitors"):
        raise Problem(403, "Not for this role", "role: does not ask the visitors service")
    return caller


async def desk_actor(caller: CsrfCaller) -> Caller:
    if not is_desk(caller):
        raise Problem(403, "Not for this role", "role: does not command the visitors service")
    return caller


async def badge_checker(caller: CsrfCaller) -> Caller:
    """Who checks a badge: whoever records sightings (the SSO) and the front office."""
    roles = caller.person.roles
    if not (may_send_event(roles, "visitor.sighted") or may_request(roles, "command", "visitors")):
        raise Problem(403, "Not for this role", "role: does not check visitor badges")
    return caller


DeskReader = Annotated[Caller, Depends(desk_reader)]
DeskActor = Annotated[Caller, Depends(desk_actor)]
BadgeChecker = Annotated[Caller, Depends(badge_checker)]


def secret_of(request: Request) -> bytes:
    """The badge secret, read once per app (an env var or a file: badges.badge_secret)."""
    secret: bytes | None = getattr(request.app.state, "badge_secret", None)
    if secret is None:
        secret = badge_secret(request.app.state.web.settings)
        request.app.state.badge_secret = secret
    return secret


# --- words: what a possible match is, as the clerk reads it ----------------------------------

KIND_WORDS = {
    "custody_restriction": "Custody restriction",
    "trespass_order": "Trespass order",
    "banned": "Banned from campus",
    "not_screened": "Not screened, check the visitor by hand",
}
# The visitors service's hold when its watchlist provider did not answer: a possible match with
# nobody listed to compare, so no words of likeness (its note says why).
NOT_SCREENED = "not_screened"


def _plain(name: str) -> list[str]:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = "".join(c if c.isalnum() else " " for c in plain.replace("'", "").replace("\u2019", ""))
    return plain.split()


# The visitors service's score (services/visitors/matching.py, documented in
# docs/architecture.md): name score n, then with a date of birth on both sides same → 0.7n+0.3,
# day and month swapped → 0.7n+0.2, different → 0.6n; missing on either side → n. Its reply
# gives the score alone, so the words are read back from it where only one reading fits.
_DOB_CASES = (
    ("same date of birth, or none on the list", lambda n: n),
    ("same date of birth", lambda n: 0.7 * n + 0.3),
    ("day and month of birth swapped", lambda n: 0.7 * n + 0.2),
    ("different date of birth", lambda n: 0.6 * n),
)


# The visitors service's own reading of the dates, when its reply carries it.
_DOB_CHECK_WORDS = {
    "same": "same date of birth",
    "swapped": "day and month of birth swapped",
    "differs": "different date of birth",
    "missing": "no date of birth to compare",
}


def match_words(
    first: str,
    last: str,
    dob_given: bool,
    listed_name: str,
    score: float,
    dob_check: str | None = None,
) -> str:
    """How a watchlist entry resembles the visitor: "exact name, different date of birth",
    "names swapped, same date of birth", "similar name (score 0.87)". With the visitors
    service's date check the dates are said as it judged them; without it (a match screened
    before it was kept) they are read back from the score where only one reading fits."""
    visitor, listed = _plain(f"{first} {last}"), _plain(listed_name)
    exact = visitor == listed
    swapped = not exact and _plain(f"{last} {first}") == listed
    if dob_check in _DOB_CHECK_WORDS:
        name = "exact name" if exact else "names swapped" if swapped else "similar name"
        return f"{name}, {_DOB_CHECK_WORDS[dob_check]}"
    readings = [(1.0, "exact name" if exact else "same name or a nickname")]
    if swapped:
        readings = [(0.95, "names swapped")]
    for n, name in readings:
        if not dob_given:
            if abs(score - n) < 1e-6:
                return f"{name}, no date of birth given"
            continue
        fits = [words for words, f in _DOB_CASES if abs(score - f(n)) < 1e-6]
        if len(fits) == 1 or (fits and fits[0] == _DOB_CASES[0][0]):
            return f"{name}, {fits[0]}"
    return f"similar name (score {score:.2f})"


# --- what the desk answers --------------------------------------------------------------------


class DeskSignIn(BaseModel):
    """A sign-in as the desk's form sends it: the barcode's text is never among the fields."""

    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID = Field(description="Made by the page: a retry is the same sign-in.")
    first_name: PersonName
    last_name: PersonName
    date_of_birth: DateOfBirth | None = None
    visitor_type: VisitorType
    id_type: IdType
    id_last4: IdLast4
    id_expires: date | None = Field(
        default=None, description="The card's expiry (barcode DBA): an expired ID is flagged."
    )
    purpose: ShortText
    host_id: Token
    destination_zones: list[Token] = Field(min_length=1, max_length=10)
    expected_minutes: int = Field(ge=5, le=12 * 60)


class DeskMatch(PossibleMatch):
    reason: str = Field(description="The list's reason, in words.")
    words: str | None = Field(default=None, description="How alike, in words (at sign-in).")


class DeskBadge(BaseModel):
    number: str
    token: str = Field(description="What the badge's QR code carries (signed).")
    valid_until: datetime
    print_url: str


class DeskVisit(BaseModel):
    visit_id: uuid.UUID
    status: VisitStatus
    badge_number: str | None
    badge: DeskBadge | None = Field(description="To print: while the visitor is on site.")
    destination_names: list[str]
    expected_until: datetime | None
    checked_out_at: datetime | None
    possible_matches: list[DeskMatch]
    id_expired: bool = Field(default=False, description="The card's expiry has passed.")


class ScreenAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    watchlist_entry_id: Token
    answer: ScreeningAnswer
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class BadgeScan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    badge: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class BadgeCheck(BaseModel):
    status: BadgeStatus
    badge_number: str | None = Field(description="When the token was signed here.")
    valid_until: datetime | None


class DeskHeldVisit(BaseModel):
    """A held sign-in, to reopen its screening screen: the visitor (the ID's type, never its
    digits) and each possible match in words."""

    visit_id: uuid.UUID
    name: str
    date_of_birth: date | None
    id_type: IdType
    visitor_type: VisitorType
    host_name: str
    destination_names: list[str]
    since: datetime
    possible_matches: list[DeskMatch]


class DeskHeld(BaseModel):
    as_of: datetime
    visits: list[DeskHeldVisit]


class DeskUnaccounted(UnaccountedEntry):
    destination_names: list[str]
    last_seen_zone_name: str | None


class DeskEndOfDay(BaseModel):
    day: date
    visitors: list[DeskUnaccounted]


class DeskRosterEntry(RosterEntry):
    destination_names: list[str]
    last_seen_zone_name: str | None


class DeskRoster(BaseModel):
    as_of: datetime
    visitors: list[DeskRosterEntry]


# --- asking the visitors service ---------------------------------------------------------------


def _visitors_refusal(error: str) -> Problem | None:
    # The visitors service's refusals name the field (and at most a visit id), never a value.
    if "no visit with this badge" in error or "no such visit" in error:
        return Problem(404, "Not found", error[:200])
    if "pending screening" in error or "denied entry" in error:
        return Problem(409, "Not on site", error[:200])
    if ":" in error.split(" ")[0]:  # `host_id: …`, `destination_zones: …`
        return Problem(422, "Invalid request", error[:200])
    return None


async def _ask(state: WebState, subject: str, request: BaseModel) -> Any:
    return await asking.ask(
        state, "visitors", subject, request, _visitors_refusal, ASK_TIMEOUT_SECONDS
    )


def _read(model: type[M], result: Any) -> M:
    return asking.read("visitors", model, result)


def zone_names(school: SchoolConfig, ids: list[str]) -> list[str]:
    names = {z.id: z.name for z in school.zones}
    return [names.get(z, z) for z in ids]


def _desk_match(m: PossibleMatch, words: str | None) -> DeskMatch:
    return DeskMatch(
        **m.model_dump(),
        reason=KIND_WORDS.get(m.kind, m.kind.replace("_", " ").capitalize()),
        words=None if m.kind == NOT_SCREENED else words,
    )


def _desk_visit(
    reply: VisitReply, caller: Caller, secret: bytes, words: dict[str, str] | None = None
) -> DeskVisit:
    badge = None
    if reply.badge_number and reply.badge_valid_until and reply.status is VisitStatus.ON_SITE:
        claims = BadgeClaims(
            caller.school.id, reply.badge_number, reply.visit_id, reply.badge_valid_until
        )
        token = sign(secret, claims)
        badge = DeskBadge(
            number=reply.badge_number,
            token=token,
            valid_until=reply.badge_valid_until,
            print_url=f"/desk/badges/{token}",
        )
    return DeskVisit(
        visit_id=reply.visit_id,
        status=reply.status,
        badge_number=reply.badge_number,
        badge=badge,
        destination_names=zone_names(caller.school, reply.destination_zones),
        expected_until=reply.expected_until,
        checked_out_at=reply.checked_out_at,
        possible_matches=[
            _desk_match(m, (words or {}).get(m.watchlist_entry_id)) for m in reply.possible_matches
        ],
    )


async def _roster(state: WebState, caller: Caller, include_pending: bool = True) -> RosterReply:
    subject = query_subject(caller.school.id, "visitors", "roster", caller.person.id)
    return _read(RosterReply, await _ask(state, subject, Roster(include_pending=include_pending)))


# --- the API ----------------------------------------------------------------------------------

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "The caller's role does not ask the visitors service (or CSRF refused)"},
    502: {"description": "The visitors service refused the request"},
    503: {"description": "The visitors service did not answer"},
}


@router.post(
    "/api/v1/visitors/sign-in",
    response_model=DeskVisit,
    summary="Sign a visitor in",
    responses={**PROBLEMS, 422: {"description": "A field is missing or invalid"}},
)
async def sign_in(body: DeskSignIn, caller: DeskActor, state: State, request: Request) -> DeskVisit:
    """Screened against the watchlist: admitted with a badge, or held (`pending_screening`)
    with the possible matches to decide. `id_expired` flags a card past its expiry (the
    clerk decides; the visitors service is not told)."""
    fields = body.model_dump(exclude={"id_expires"})
    req = SignIn(**fields, signed_in_by=caller.person.id)
    subject = command_subject(caller.school.id, "visitors", "sign_in", caller.person.id)
    reply = _read(VisitReply, await _ask(state, subject, req))
    words = {
        m.watchlist_entry_id: match_words(
            body.first_name,
            body.last_name,
            body.date_of_birth is not None,
            m.listed_name,
            m.score,
            m.date_of_birth_check,
        )
        for m in reply.possible_matches
    }
    visit = _desk_visit(reply, caller, secret_of(request), words)
    today = state.suite_clock.now().astimezone(caller.school.tz).date()
    visit.id_expired = body.id_expires is not None and body.id_expires < today
    return visit


@router.post(
    "/api/v1/visitors/{visit_id}/screen",
    response_model=DeskVisit,
    summary="Answer a possible watchlist match",
    responses={
        **PROBLEMS,
        404: {"description": "No such visit in the caller's school"},
        422: {"description": "A field is missing or invalid"},
    },
)
async def screen(
    visit_id: uuid.UUID, body: ScreenAnswer, caller: DeskActor, state: State, request: Request
) -> DeskVisit:
    """Yes (it is them) denies entry; No for every match admits (with a badge); Not sure keeps
    the visitor held. The answer is the caller's."""
    req = Screen(visit_id=visit_id, decided_by=caller.person.id, **body.model_dump())
    subject = command_subject(caller.school.id, "visitors", "screen", caller.person.id)
    return _desk_visit(
        _read(VisitReply, await _ask(state, subject, req)), caller, secret_of(request)
    )


@router.post(
    "/api/v1/visitors/sign-out",
    response_model=DeskVisit,
    summary="Sign a visitor out by badge (its QR code's text or its number)",
    responses={
        **PROBLEMS,
        404: {"description": "No visit with this badge"},
        409: {"description": "The visit is held for screening or was denied"},
        422: {"description": "A forged badge, or another school's"},
    },
)
async def sign_out(body: BadgeScan, caller: DeskActor, state: State, request: Request) -> DeskVisit:
    """A scanned badge is checked first (an expired one still signs its visitor out)."""
    number = body.badge
    if is_token(number):
        verdict = verify(
            secret_of(request), number, school_id=caller.school.id, now=state.suite_clock.now()
        )
        if verdict.claims is None or verdict.status is BadgeStatus.OTHER_SCHOOL:
            raise Problem(422, "Not this school's badge", f"badge: {verdict.status.value}")
        number = verdict.claims.badge_number
    try:
        req = SignOut(badge_number=number, signed_out_by=caller.person.id)
    except ValidationError:
        raise Problem(422, "Invalid request", "badge: not a badge number") from None
    subject = command_subject(caller.school.id, "visitors", "sign_out", caller.person.id)
    return _desk_visit(
        _read(VisitReply, await _ask(state, subject, req)), caller, secret_of(request)
    )


@router.get(
    "/api/v1/visitors/roster",
    response_model=DeskRoster,
    summary="Who is on site (and who waits on screening)",
    responses=PROBLEMS,
)
async def roster(caller: DeskReader, state: State) -> DeskRoster:
    """The evacuation list: every visitor on site now, and those held for screening."""
    found = await _roster(state, caller)
    zones = {z.id: z.name for z in caller.school.zones}
    return DeskRoster(
        as_of=found.as_of,
        visitors=[
            DeskRosterEntry(
                **v.model_dump(),
                destination_names=zone_names(caller.school, v.destination_zones),
                last_seen_zone_name=zones.get(v.last_seen_zone or ""),
            )
            for v in found.visitors
        ],
    )


@router.get(
    "/api/v1/visitors/held",
    response_model=DeskHeld,
    summary="Sign-ins waiting for a screening decision",
    responses=PROBLEMS,
)
async def held(caller: DeskReader, state: State) -> DeskHeld:
    """Each held sign-in with its possible matches in words, oldest first, so its screening
    can be reopened from another tab or after a reload."""
    subject = query_subject(caller.school.id, "visitors", "held", caller.person.id)
    found = _read(HeldReply, await _ask(state, subject, Held()))
    return DeskHeld(
        as_of=found.as_of,
        visits=[
            DeskHeldVisit(
                visit_id=v.visit_id,
                name=f"{v.first_name} {v.last_name}",
                date_of_birth=v.date_of_birth,
                id_type=v.id_type,
                visitor_type=v.visitor_type,
                host_name=v.host_name,
                destination_names=zone_names(caller.school, v.destination_zones),
                since=v.since,
                possible_matches=[
                    _desk_match(
                        m,
                        match_words(
                            v.first_name,
                            v.last_name,
                            v.date_of_birth is not None,
                            m.listed_name,
                            m.score,
                            m.date_of_birth_check,
                        ),
                    )
                    for m in v.possible_matches
                ],
            )
            for v in found.visits
        ],
    )


@router.get(
    "/api/v1/visitors/end-of-day",
    response_model=DeskEndOfDay,
    summary="Who never signed out on a day (closed by the end-of-day checkout)",
    responses={**PROBLEMS, 422: {"description": "`day` is not a date"}},
)
async def end_of_day(
    caller: DeskReader, state: State, day: RequestDate | None = None
) -> DeskEndOfDay:
    """The badges the visitors service closed at the day's end because nobody signed them out
    (each reported `visitor.unaccounted`), oldest check-in first; `day` is the school's date
    of the badges, today by default."""
    subject = query_subject(caller.school.id, "visitors", "end_of_day", caller.person.id)
    found = _read(EndOfDayReply, await _ask(state, subject, EndOfDay(day=day)))
    zones = {z.id: z.name for z in caller.school.zones}
    return DeskEndOfDay(
        day=found.day,
        visitors=[
            DeskUnaccounted(
                **v.model_dump(),
                destination_names=zone_names(caller.school, v.destination_zones),
                last_seen_zone_name=zones.get(v.last_seen_zone or ""),
            )
            for v in found.visitors
        ],
    )


@router.get(
    "/api/v1/visitors/live",
    summary="Live updates for the roster (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`hello`, then `visitors` when a visitor of the school checks in or "
            "out, is flagged, overdue, out of bounds or unaccounted (ask the roster again)",
        },
        401: {"description": "Not signed in"},
        403: {"description": "The caller's role does not ask the visitors service"},
    },
)
async def live(caller: DeskReader, hub: Hub) -> EventSourceResponse:
    stream = hub.open(caller.school.id, caller.person.id, nudges=("visitors",))
    return EventSourceResponse(stream_events(hub, stream), ping=PING_SECONDS)


@router.post(
    "/api/v1/badges/check",
    response_model=BadgeCheck,
    summary="Is a scanned badge genuine, current and of this school?",
    responses={401: {"description": "Not signed in"}, 403: {"description": "Not for this role"}},
)
async def check_badge(
    body: BadgeScan, caller: BadgeChecker, state: State, request: Request
) -> BadgeCheck:
    """`valid`, `forged`, `expired`, `other_school` or `not_a_badge`; the badge number only of a
    token signed here and of this school."""
    verdict = verify(
        secret_of(request), body.badge, school_id=caller.school.id, now=state.suite_clock.now()
    )
    mine = verdict.claims is not None and verdict.status is not BadgeStatus.OTHER_SCHOOL
    return BadgeCheck(
        status=verdict.status,
        badge_number=verdict.claims.badge_number if mine and verdict.claims else None,
        valid_until=verdict.claims.expires_at if mine and verdict.claims else None,
    )


# --- the pages --------------------------------------------------------------------------------


def desk_page(caller: Caller) -> None:
    if not may_request(caller.person.roles, "command", "visitors"):
        raise Problem(404, "Not found")


@router.get("/desk", response_class=HTMLResponse, summary="The front desk")
async def desk(request: Request, caller: PageCaller, state: State) -> Response:
    desk_page(caller)
    return render(request, state, "desk.html", desk_context(caller, state))


@router.get("/desk/roster", response_class=HTMLResponse, summary="On-site roster, printable")
async def roster_page(request: Request, caller: PageCaller, state: State) -> Response:
    desk_page(caller)
    return render(request, state, "desk_roster.html", desk_context(caller, state))


def _at(moment: datetime, school: SchoolConfig) -> str:
    return moment.astimezone(school.tz).strftime("%-I:%M %p")


def qr_svg(token: str) -> str:
    """The badge's QR code, drawn by segno as inline SVG (no style attribute: strict CSP)."""
    return str(segno.make_qr(token, error="m").svg_inline(omitsize=True, border=4))


@router.get("/desk/badges/{token}", response_class=HTMLResponse, summary="A badge to print")
async def badge_page(token: str, request: Request, caller: PageCaller, state: State) -> Response:
    """The badge on 62 x 100 mm label stock; 404 for a token not signed here for this school
    or a visitor no longer on site, 410 for an expired badge."""
    desk_page(caller)
    verdict = verify(
        secret_of(request), token, school_id=caller.school.id, now=state.suite_clock.now()
    )
    if verdict.claims is None or verdict.status is BadgeStatus.OTHER_SCHOOL:
        raise Problem(404, "Not found")
    if verdict.status is BadgeStatus.EXPIRED:
        raise Problem(410, "Badge expired", "badge: past its valid-until time")
    claims = verdict.claims
    found = await _roster(state, caller, include_pending=False)
    visit = next((v for v in found.visitors if v.visit_id == claims.visit_id), None)
    if visit is None:
        raise Problem(404, "Not found", "visit: no longer on site")
    school = caller.school
    context = page_context(caller, state) | {
        "visit": {
            "name": visit.name,
            "type": visit.visitor_type.value,
            "host": visit.host_name,
            "destinations": ", ".join(zone_names(school, visit.destination_zones)),
            "date": visit.since.astimezone(school.tz).strftime("%a %-d %b %Y"),
            "since": _at(visit.since, school),
            "valid_until": _at(claims.expires_at, school),
            "badge_number": claims.badge_number,
        },
        "qr": qr_svg(token),
    }
    return render(request, state, "badge.html", context)
