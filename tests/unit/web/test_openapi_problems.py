"""The OpenAPI document tells a client what it will get: every error of every operation is
`application/problem+json` with the ProblemDetails shape, as the API answers — not FastAPI's
default validation body, which this API never sends."""

from __future__ import annotations

from pathlib import Path

from lookout.kernel.settings import Settings
from services.web.app import create_app


def test_every_documented_error_is_problem_json(tmp_path: Path) -> None:
    spec = create_app(Settings(data_dir=tmp_path)).openapi()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ProblemDetails"]["required"] == ["title", "status"]
    errors = {
        (path, method, status): response["content"]
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }
    problem = {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }
    assert {key for key, content in errors.items() if content != problem} == set()
    events = {status for path, method, status in errors if path == "/api/v1/events"}
    assert events == {"401", "403", "413", "422", "503"}
