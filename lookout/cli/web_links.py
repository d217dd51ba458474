"""The web service's place in a local suite (`lookout up`, `lookout demo`): its port and base
URL, and one-time sign-in links for the people a newcomer wants to try it as."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from typing import Any

from lookout.kernel.settings import Settings

WEB = "web"
# Whom a newcomer signs in as: the SSO's phone, the front desk, the principal's console.
TRY_AS = ("sso", "front_office", "principal")


def prepare_web(
    settings: Settings, schools: dict[str, Any]
) -> tuple[dict[str, str] | None, list[str]]:
    """The web service's port (LOOKOUT_WEB_PORT when free, else a free one) and base URL, and
    one-time sign-in links for an SSO, the front office and a principal of each school —
    issued before the web process starts, so the two never migrate its database at once.
    (None, []) when the web service is not installed."""
    from lookout.cli.docs import service_module
    from lookout.kernel.clock import SystemClock
    from lookout.local.runtime import free_port, port_is_free

    if importlib.util.find_spec("services.web.app") is None:
        return None, []
    port = settings.web_port if port_is_free(settings.web_port, settings.web_host) else free_port()
    web = settings.model_copy(update={"web_port": port, "data_dir": settings.data_dir.resolve()})
    env = {"LOOKOUT_WEB_PORT": str(port)}
    if not settings.web_base_url.strip():
        env["LOOKOUT_WEB_BASE_URL"] = web.web_url()
    web = web.model_copy(update={"web_base_url": env.get("LOOKOUT_WEB_BASE_URL", web.web_url())})
    lines = [f"  web       {web.web_url()}  (sign-in links below: one use, 15 minutes)"]
    accounts = importlib.import_module("services.web.accounts")
    service_module(WEB)  # importable, or fail here with the import error
    for school in schools.values():
        for role in TRY_AS:
            person = next((p for p in school.people if role in p.roles), None)
            if person is None:
                continue
            # Links last real minutes, even under a demo's simulated clock.
            url = asyncio.run(
                accounts.issue_link(web, SystemClock(), school_id=school.id, person_id=person.id)
            )
            lines.append(f"  sign in   {school.id} {role:<12} {person.id:<18} {url}")
    return env, lines


def wait_until_web_ready(
    children: Any, web_host: str = "127.0.0.1", timeout_seconds: float = 60.0
) -> bool:
    """Wait (bounded) until the web process answers `/readyz` on its health port *and* its own
    port takes connections, so a sign-in link printed next is not refused: uvicorn binds the
    web port only after the app's start-up, which is what makes the health port ready, so
    ready alone left a window in which a link was refused (seen under CI load). False if it
    did not get there in time (the links are printed all the same: they work once it is)."""
    import socket
    import time

    from lookout.local.readiness import is_ready

    web = next((c for c in children if c.name == WEB), None)
    health = web.env.get("LOOKOUT_HEALTH_PORT") if web is not None else None
    port = web.env.get("LOOKOUT_WEB_PORT") if web is not None else None
    if health is None or port is None:
        return False

    # A wildcard bind answers on loopback; a named address is where it listens.
    host = "127.0.0.1" if web_host in ("", "0.0.0.0", "::") else web_host

    def takes_connections() -> bool:
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return True
        except OSError:
            return False

    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if is_ready(int(health)) and takes_connections():
            return True
        time.sleep(0.1)  # a probe of another process: nothing here to wait on instead
    return False
