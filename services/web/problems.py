"""Errors as `application/problem+json` (RFC 9457): a status, a title, and a detail that names
the field, never a value sent and never a traceback."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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


class ProblemDetails(BaseModel):
    """What every error answers (RFC 9457)."""

    type: str = Field(default="about:blank")
    title: str = Field(description="What went wrong, in words.")
    status: int = Field(ge=400, le=599)
    detail: str | None = Field(
        default=None,
        description="The field at fault and why (`events.3.zone_id: …`), never its value.",
    )


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what the API answers: every error is problem+json (FastAPI's
    default documents its own validation body, which this API never sends)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["ProblemDetails"] = ProblemDetails.model_json_schema()
        problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = problem
                        if status == "422":
                            response["description"] = "A field is missing or invalid"
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


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
    _document_problems(app)

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
