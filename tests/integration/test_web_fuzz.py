"""The web service's OpenAPI document fuzzed with schemathesis against the running service
(uvicorn on a free port, a real nats-server, the patrol service answering its queries), signed
in as the SSO with the session's cookie, CSRF token and this site's Origin, so the signed-in
routes are reached: valid and invalid requests to every operation get no server error (5xx,
except a 503 the operation declares) and every error is application/problem+json."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.suite import Suite, running_suite, suite_settings

pytestmark = pytest.mark.nats

EXAMPLES = 60  # per operation and mode: about a thousand requests, in 10-20 s
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@contextmanager
def suite_in_thread(settings: Any) -> Iterator[tuple[Suite, asyncio.AbstractEventLoop]]:
    """The suite on its own event loop in a thread: schemathesis calls it with blocking HTTP."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    held: list[Suite] = []
    stop = asyncio.Event()
    failed: list[BaseException] = []

    async def main() -> None:
        try:
            async with running_suite(settings) as suite:
                held.append(suite)
                ready.set()
                await stop.wait()
        except BaseException as exc:
            failed.append(exc)
            ready.set()

    def run() -> None:
        loop.run_until_complete(main())
        # What the stopped server left waiting (an SSE stream's shutdown watcher) ends here.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(timeout=60)
    if failed or not held:
        raise RuntimeError("the suite did not start") from (failed[0] if failed else None)
    try:
        yield held[0], loop
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()


class Session:
    """The SSO's signed-in session, as headers: signed in again if a case signed it out."""

    def __init__(self, suite: Suite, loop: asyncio.AbstractEventLoop) -> None:
        self.suite, self.loop = suite, loop
        self.headers: dict[str, str] = {}
        self.sign_in()

    def sign_in(self) -> None:
        link = asyncio.run_coroutine_threadsafe(self.suite.sign_in_link(), self.loop).result()
        answer = requests.post(
            link, allow_redirects=False, timeout=10, headers={"Origin": self.suite.web.url}
        )
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"].split(";")[0]  # __Host-lookout=<id>
        page = requests.get(f"{self.suite.web.url}/app", headers={"Cookie": cookie}, timeout=10)
        match = CSRF_META.search(page.text)
        assert match is not None
        self.headers = {
            "Cookie": cookie,
            "X-CSRF-Token": match.group(1),
            "Origin": self.suite.web.url,
        }


def test_the_openapi_document_fuzzed_gives_no_server_error_and_only_problems(
    nats_server: Any, tmp_path: Path
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    with suite_in_thread(suite_settings(nats_server.url, tmp_path)) as (suite, loop):
        base = suite.web.url
        session = Session(suite, loop)
        schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        names = {f"{op.method.upper()} {op.path}" for op in operations}
        assert {"POST /api/v1/events", "GET /api/v1/today", "POST /signin"} <= names
        seen: dict[str, set[int]] = {}
        unbreakable: list[str] = []

        def fuzzer(name: str, declared: set[str], cases: Any) -> Any:
            @given(case=cases)
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,  # the same cases every run
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: Any) -> None:
                kwargs = case.as_transport_kwargs(base_url=base)
                kwargs["headers"] = {**kwargs.get("headers", {}), **session.headers}
                # A stream (`/api/v1/live`) is judged by its status and type, then closed.
                with requests.request(
                    **kwargs, stream=True, timeout=15, allow_redirects=False
                ) as answer:
                    status, ctype = answer.status_code, answer.headers.get("content-type")
                seen.setdefault(name, set()).add(status)
                where = f"{name} -> {status} for {case.as_curl_command()}"
                assert status < 500 or (status == 503 and "503" in declared), where
                if status >= 400:
                    assert ctype == "application/problem+json", where
                if name == "POST /signout" and status == 303:
                    session.sign_in()

            return fuzz

        for operation in operations:
            name = f"{operation.method.upper()} {operation.path}"
            declared = {str(code) for code in operation.definition.raw.get("responses", {})}
            fuzzer(name, declared, operation.as_strategy(GenerationMode.POSITIVE))()
            try:
                fuzzer(name, declared, operation.as_strategy(GenerationMode.NEGATIVE))()
            except Unsatisfiable:
                unbreakable.append(name)  # no request to it can break its schema

        # Routes without parameters, or with any string as one, take nothing to get wrong; the
        # ones with bodies were sent broken ones.
        assert {"POST /signin", "POST /api/v1/events"}.isdisjoint(unbreakable), unbreakable
        # The fuzzing reached the signed-in routes, not only the sign-in wall.
        assert 200 in seen["POST /api/v1/events"], seen
        assert 200 in seen["GET /api/v1/today"], seen
