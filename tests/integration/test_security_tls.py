"""TLS between clients and NATS: certificates made here (the `cryptography` package), the
server runs deploy/nats/nats-server.conf with a `tls` block. A client that does not trust the
CA, or does not speak TLS, is refused; one configured through LOOKOUT_NATS_TLS_* connects, both
with nats-py (`connect_options`) and as a FastStream broker (`make_broker`)."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lookout.deploy.nats import generate, inbox_prefix
from lookout.kernel.messaging import make_broker
from lookout.kernel.nats_connect import connect_options
from lookout.kernel.settings import EXAMPLE_SCHOOL, Settings, load_school
from tests.integration.test_security_permissions import ConfiguredNats, server_config

pytestmark = pytest.mark.nats


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def make_pki(directory: Path) -> Pki:
    def pem(cert: x509.Certificate, name: str) -> Path:
        path = directory / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key, other_key = _key(), _key()
    ca = _cert("Lookout test CA", ca_key, None, ca=True)
    other = _cert("Someone else's CA", other_key, None, ca=True)
    server_key, client_key = _key(), _key()
    server = _cert("nats", server_key, (ca.subject, ca_key), server=True)
    client = _cert("svc-patrol", client_key, (ca.subject, ca_key))
    return Pki(
        ca=pem(ca, "ca.crt"),
        server_cert=pem(server, "server.crt"),
        server_key=_write_key(server_key, directory / "server.key"),
        client_cert=pem(client, "client.crt"),
        client_key=_write_key(client_key, directory / "client.key"),
        other_ca=pem(other, "other-ca.crt"),
    )


def tls_block(pki: Pki, verify: bool) -> str:
    return (
        "\ntls {\n"
        f'  cert_file: "{pki.server_cert}"\n  key_file: "{pki.server_key}"\n'
        f'  ca_file: "{pki.ca}"\n  verify: {"true" if verify else "false"}\n  timeout: 2\n}}\n'
    )


@dataclass
class TlsNats:
    server: ConfiguredNats
    pki: Pki
    password: str


def _start(tmp: Path, verify: bool) -> TlsNats:
    pki = make_pki(tmp)
    generated = generate({"lhs": load_school(EXAMPLE_SCHOOL)}, tmp, rounds=4)
    config = server_config(tmp, tmp / "js", extra=tls_block(pki, verify))
    server = ConfiguredNats(config, log=tmp / "nats.log").start()
    return TlsNats(server, pki, generated.passwords["svc-patrol"])


@pytest.fixture(scope="module")
def tls_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsNats]:
    running = _start(tmp_path_factory.mktemp("tls"), verify=False)
    yield running
    running.server.stop()


def settings(t: TlsNats, **tls: Path) -> Settings:
    return Settings(
        nats_url=t.server.url,
        nats_user="svc-patrol",
        nats_password=t.password,
        nats_inbox_prefix=inbox_prefix("svc-patrol"),
        **{f"nats_tls_{k}": v for k, v in tls.items()},
    )


async def _connect(url: str, **options: object) -> nats.NATS:
    return await nats.connect(
        url, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=3, **options
    )


async def test_client_with_the_ca_connects(tls_nats: TlsNats) -> None:
    s = settings(tls_nats, ca=tls_nats.pki.ca)
    options = connect_options(s)
    assert isinstance(options["tls"], ssl.SSLContext)
    nc = await _connect(tls_nats.server.url, **options)
    try:
        await nc.flush()  # a round trip on the (TLS-only) connection
        assert nc._server_info["tls_required"] is True
    finally:
        await nc.close()


async def test_service_broker_connects_over_tls(tls_nats: TlsNats) -> None:
    s = settings(tls_nats, ca=tls_nats.pki.ca)
    broker = make_broker(s)
    await broker.connect()
    try:
        assert await broker.ping(timeout=3)
        await broker.connection.flush()
        assert broker.connection._server_info["tls_required"] is True
    finally:
        await broker.stop()


async def test_client_without_the_ca_is_refused(tls_nats: TlsNats) -> None:
    # The system trust store does not know our CA: certificate verification fails.
    with pytest.raises(ssl.SSLCertVerificationError):
        await _connect(tls_nats.server.url, tls=ssl.create_default_context())
    # Trusting another CA does not help either.
    with pytest.raises(ssl.SSLCertVerificationError):
        await _connect(
            tls_nats.server.url, **connect_options(settings(tls_nats, ca=tls_nats.pki.other_ca))
        )


async def test_plain_client_is_refused(tls_nats: TlsNats) -> None:
    # No TLS settings: nats-py sees `tls_required` and tries the system trust store → refused.
    with pytest.raises(ssl.SSLCertVerificationError):
        await _connect(tls_nats.server.url, **connect_options(settings(tls_nats)))


def test_mutual_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    running = _start(tmp_path, verify=True)
    try:
        ok = settings(
            running, ca=running.pki.ca, cert=running.pki.client_cert, key=running.pki.client_key
        )
        no_cert = settings(running, ca=running.pki.ca)

        async def attempt(s: Settings) -> bool:
            nc = await _connect(running.server.url, **connect_options(s))
            connected = nc.is_connected
            await nc.close()
            return connected

        assert asyncio.run(attempt(ok)) is True
        # The server ends the handshake: ssl reports the alert, or the connection just closes.
        with pytest.raises((ssl.SSLError, ConnectionError, nats.errors.Error, OSError)):
            asyncio.run(attempt(no_cert))
    finally:
        running.server.stop()
