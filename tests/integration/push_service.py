"""A stand-in Web Push service (RFC 8030) for tests: what a browser vendor's push service is to
Lookout, on this machine. It speaks HTTPS on 127.0.0.1 (a self-signed certificate made per run;
trust it with `SSL_CERT_FILE=<service>.ca_file`), and for every POST to a subscription endpoint
it checks what a real push service checks and decrypts what only the browser could:

- the VAPID `Authorization: vapid t=<JWT>,k=<key>` header (RFC 8292): `k` must be the
  application server key given, the JWT's ES256 signature must verify with it, its `aud` must
  be this service's origin and its `exp` in the future (within 24 h);
- the body is decrypted (RFC 8291, aes128gcm, `http_ece.decrypt` with the subscription's
  private key and auth secret) and parsed as JSON.

Use:

    with PushService(application_server_key) as push:      # started on a free port
        subscription = push.subscription()                  # fresh keys; {"endpoint", "keys"}
        ...  # hand `subscription` to Lookout (push_subscribe) with SSL_CERT_FILE=push.ca_file
        await push.wait_for(1)                               # or poll push.received
        push.received[0].payload                             # the decrypted JSON (a dict)
        push.answer_with(subscription["endpoint"], 410)      # the browser unsubscribed

A request that fails a check is answered 400/401/403 and recorded in `.refused` (the reason),
never in `.received`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import http_ece
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Received:
    """One push as the browser would get it."""

    endpoint: str
    payload: dict[str, Any]
    ttl: str | None
    urgency: str | None
    topic: str | None
    claims: dict[str, Any]  # the VAPID JWT's claims
    received_at: float = field(default_factory=time.time)  # when it arrived (bench/)


@dataclass
class _Browser:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    answer: int = 201


@dataclass
class PushService:
    """The stand-in; see the module's docstring."""

    application_server_key: str | None = None  # None: accept any key that verifies its JWT
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._browsers: dict[str, _Browser] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="lookout-push-"))
        self.ca_file = str(self._dir / "push-ca.pem")
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> PushService:
        cert, key = _self_signed(self._dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = service._take(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests read .received and .refused

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> PushService:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._server is not None, "start() the push service first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    # -- browsers --------------------------------------------------------------------------------

    def subscription(self) -> dict[str, Any]:
        """A new browser's subscription (`PushSubscription.toJSON()`): an endpoint on this
        service and fresh P-256 and auth keys, whose private half only this service holds."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        endpoint = f"{self.origin}/push/{secrets.token_urlsafe(16)}"
        public = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        with self._lock:
            self._browsers[endpoint] = _Browser(private_key, auth)
        return {"endpoint": endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}

    def answer_with(self, endpoint: str, status: int) -> None:
        """From now on, answer pushes to `endpoint` with `status` (410: unsubscribed)."""
        with self._lock:
            self._browsers[endpoint].answer = status

    async def wait_for(self, count: int, within: float = 15.0) -> list[Received]:
        """Until `count` pushes were received (fails naming what came after `within` s)."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.received)} of {count} pushes after {within}s; refused: "
                    f"{self.refused}"
                )
            await asyncio.sleep(0.02)
        return list(self.received)

    # -- one request -----------------------------------------------------------------------------

    def _take(self, path: str, headers: dict[str, str], body: bytes) -> int:
        endpoint = self.origin + path
        with self._lock:
            browser = self._browsers.get(endpoint)
        if browser is None:
            self.refused.append("unknown endpoint")
            return 404
        h = {k.lower(): v for k, v in headers.items()}
        claims, why = self._vapid(h.get("authorization", ""))
        if claims is None:
            self.refused.append(why)
            return 401 if why.startswith("authorization") else 403
        if h.get("content-encoding") != "aes128gcm":
            self.refused.append("content-encoding: not aes128gcm")
            return 400
        try:
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth
            )
            payload = json.loads(plain)
        except Exception as exc:  # a payload the browser could not read: the test must know
            self.refused.append(f"body: cannot decrypt or parse ({type(exc).__name__})")
            return 400
        if browser.answer >= 300:
            return browser.answer  # e.g. 410: gone, delivered to nobody
        self.received.append(
            Received(endpoint, payload, h.get("ttl"), h.get("urgency"), h.get("topic"), claims)
        )
        return browser.answer

    def _vapid(self, header: str) -> tuple[dict[str, Any] | None, str]:
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            return None, "authorization: not the vapid scheme"
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = fields.get("t", ""), fields.get("k", "")
        if self.application_server_key is not None and key != self.application_server_key:
            return None, "k: not the application server key"
        try:
            head, claims_part, signature = token.split(".")
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
            raw = unb64url(signature)
            der = encode_dss_signature(
                int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            )
            public.verify(der, f"{head}.{claims_part}".encode(), ec.ECDSA(hashes.SHA256()))
            header_json = json.loads(unb64url(head))
            claims: dict[str, Any] = json.loads(unb64url(claims_part))
        except (ValueError, InvalidSignature):
            return None, "t: the JWT does not verify with k"
        if header_json.get("alg") != "ES256":
            return None, "t: not ES256"
        if claims.get("aud") != self.origin:
            return None, "aud: not this push service"
        exp = int(claims.get("exp", 0))
        if not time.time() < exp <= time.time() + 24 * 3600:
            return None, "exp: not within the next 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return None, "sub: not a contact URI"
        return claims, ""


def _self_signed(where: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own CA (`ca_file`), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lookout test push service")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = where / "push-ca.pem", where / "push-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
