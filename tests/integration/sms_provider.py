"""A stand-in SMS provider for tests: the part of Twilio's REST API that Lookout uses, on this
machine (plain HTTP on 127.0.0.1, a free port), and Twilio's way of delivering a reply.

- `POST /2010-04-01/Accounts/<sid>/Messages.json`, form `To`, `From`, `Body`, HTTP basic auth
  `<sid>:<auth token>`: answered 201 with a message resource and recorded in `.messages`
  (a wrong account or token: 401, recorded in `.refused`, not in `.messages`);
- `await provider.reply(webhook_url, from_=..., body="3a")`: POSTs an inbound message to a
  webhook as Twilio does (form `From`, `To`, `Body`, `MessageSid`, `AccountSid`), signed with
  `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + each POST parameter's name and
  value, sorted by name)); `signature()` computes it for any URL and form.

Use:

    with SmsProvider() as sms:   # settings: sms_api_url=sms.url, sms_account_sid=sms.account_sid,
        ...                      # sms_auth_token=sms.auth_token, sms_from=sms.number
        await sms.wait_for(1)
        sms.messages[0].to, sms.messages[0].body
        sms.fail_with(503)       # the next message is answered 503 (then back to 201)
        await sms.reply("https://lookout.test/sms/inbound", from_="+15555550103", body="1a",
                        client=web_client)   # any httpx.AsyncClient, e.g. on an ASGI app
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import httpx


def signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature of a POST to `url` with form `params`."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class Message:
    to: str
    from_: str
    body: str
    received_at: float = field(default_factory=time.time)  # when it arrived (bench/)


@dataclass
class SmsProvider:
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    number: str = "+15555550199"  # the school's sending number
    messages: list[Message] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._fail: list[int] = []
        self._lock = threading.Lock()

    def start(self) -> SmsProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                status, answer = provider._take(
                    self.path, self.headers.get("Authorization", ""), form
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SmsProvider:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the provider first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_with(self, status: int) -> None:
        """Answer the next message with `status` (once)."""
        with self._lock:
            self._fail.append(status)

    async def wait_for(self, count: int, within: float = 15.0) -> list[Message]:
        deadline = time.monotonic() + within
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.messages)} of {count} texts after {within}s; refused: "
                    f"{self.refused}"
                )
            await asyncio.sleep(0.02)
        return list(self.messages)

    async def reply(
        self,
        webhook_url: str,
        *,
        from_: str,
        body: str,
        client: httpx.AsyncClient | None = None,
        auth_token: str | None = None,
    ) -> httpx.Response:
        """An inbound text from `from_` to the school's number, POSTed to the webhook as Twilio
        does; `auth_token` signs with another token (a forgery)."""
        params = {
            "AccountSid": self.account_sid,
            "Body": body,
            "From": from_,
            "MessageSid": "SM" + secrets.token_hex(16),
            "To": self.number,
        }
        headers = {
            "X-Twilio-Signature": signature(webhook_url, params, auth_token or self.auth_token)
        }
        if client is not None:
            return await client.post(webhook_url, data=params, headers=headers)
        async with httpx.AsyncClient() as own:
            return await own.post(webhook_url, data=params, headers=headers)

    def _take(self, path: str, authorization: str, form: dict[str, list[str]]) -> tuple[int, Any]:
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            self.refused.append("path: not this account's Messages.json")
            return 404, {"code": 20404, "message": "not found"}
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.auth_token}".encode()
        ).decode("ascii")
        if not hmac.compare_digest(authorization, expected):
            self.refused.append("authorization: not this account's credentials")
            return 401, {"code": 20003, "message": "authenticate"}
        fields = {k: v[0] for k, v in form.items()}
        missing = [k for k in ("To", "From", "Body") if not fields.get(k)]
        if missing:
            self.refused.append(f"{missing[0]}: missing")
            return 400, {"code": 21604, "message": f"{missing[0]} is required"}
        with self._lock:
            fail = self._fail.pop(0) if self._fail else None
        if fail is not None:
            return fail, {"code": 20500, "message": "try again"}
        self.messages.append(Message(fields["To"], fields["From"], fields["Body"]))
        sid = "SM" + secrets.token_hex(16)
        return 201, {"sid": sid, "status": "queued", "to": fields["To"], "body": fields["Body"]}
