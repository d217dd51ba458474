"""Errors as `application/problem+json` (RFC 9457): a status, a title, and a detail that names
the field, never a value sent and never a traceback."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"


class Problem(Exception):
    """Raised by a route or dependency; answered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers


def problem_response(
    status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def field_errors(errors: Any, limit: int = 5) -> str:
    """`events.3: …` for each failing field of a request, without the input."""
    parts = []
    for err in list(errors)[:limit]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        msg = str(err.get("msg", "invalid"))
        if str(err.get("type", "")).endswith("_parsing") or "`" in msg:
            msg = msg.split(",")[0]  # a parser's message goes on to quote the input
        parts.append(f"{'.'.join(loc) or '<body>'}: {msg}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "too_long" and "events" in e.get("loc", ()) for e in errors):
            return problem_response(413, "Too many events", "events: at most 100 per request")
        return problem_response(422, "Invalid request", field_errors(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem_response(
            exc.status_code,
            titles.get(exc.status_code, "Request refused"),
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return problem_response(500, "Internal error", type(exc).__name__)
