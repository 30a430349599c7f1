"""Real processes for the tests and benchmarks that need them: a Redis server of the
caller's own, Celery workers and a separate Celery beat, each in its own session (process
group) with its output in a log file.

Every wait here is bounded and, when it runs out, fails with the last lines of every
process's log; `Processes.close()` ends everything that was started, warm first, then
by killing the process group, and is meant to run from a fixture's finalizer (or a
`finally:`), so that nothing outlives a failed test.

Used by tests/test_celery_worker.py, tests/test_duty_to_warn.py,
tests/test_reminders_e2e.py and bench/reminders.py. Nothing here imports Django or
pytest at module level: the benchmark sets its environment before Django is set up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scripts.run_tests import free_port

ROOT = Path(__file__).resolve().parent.parent
SHUTDOWN_TIMEOUT = 20.0
START_TIMEOUT = 60.0
LOG_LINES = 40

__all__ = [
    "ROOT",
    "Processes",
    "RedisServer",
    "Service",
    "celery_command",
    "database_url",
    "free_port",
    "kill_group",
    "require_redis",
    "stop",
    "tail",
    "wait_for",
]


def celery_command(*args: str) -> list[str]:
    """`celery -A config ...` from this virtualenv."""
    script = Path(sys.executable).parent / "celery"
    if script.exists():
        return [str(script), "-A", "config", *args]
    return [sys.executable, "-m", "celery", "-A", "config", *args]


def tail(log: Path, lines: int = LOG_LINES) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text.splitlines()[-lines:])


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's whole group (it was started in a session of its own, so the
    group is exactly it and its children: a worker's pool processes, for example)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes], timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Warm shutdown first; kill the process group if it does not go. A process that has
    exited may have left children behind in its group: they are killed too."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    kill_group(process)


def wait_for(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    logs: Callable[[], str] = lambda: "",
    alive: Iterable[Service] = (),
    every: float = 0.2,
) -> float:
    """Poll `condition` until it is true; the monotonic time it became true. Fails with
    `logs()` when the time runs out or when one of `alive` exits meanwhile."""
    watched = list(alive)
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        for service in watched:
            if not service.running():
                raise AssertionError(
                    f"{service.name} exited with {service.process.returncode} while waiting "
                    f"for {what}\n{logs()}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs()}")
        time.sleep(every)


def require_redis() -> None:
    """The Redis server of the test run (scripts/run_tests.py), or fail saying so."""
    import pytest

    missing = [name for name in ("REDIS_URL", "CELERY_BROKER_URL") if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: this test needs the Redis server started by the "
            "test tooling. Run the suite with `make test` (scripts/run_tests.py)."
        )
    if not os.environ["CELERY_BROKER_URL"].startswith(("redis://", "rediss://")):
        pytest.fail("CELERY_BROKER_URL must point at Redis; run the suite with `make test`.")


def database_url() -> str:
    """The database this process is connected to (under pytest, pytest-django's test
    database, not the one DATABASE_URL names) as a URL the settings of a child read."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass
class Service:
    """One started process and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ready: str = ""  # the text its log shows once it is ready

    def running(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = LOG_LINES) -> str:
        return tail(self.log, lines)

    def is_ready(self) -> bool:
        return bool(self.ready) and self.ready in self.text()


class RedisServer:
    """A redis-server on a port of its own, without persistence (like the test run's):
    it can be stopped and started again on the same port, losing what it held, as a
    crashed Redis without an append-only file would."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        if not shutil.which("redis-server"):
            raise RuntimeError(
                "redis-server is not installed; scripts/run_tests.py installs it (make test)"
            )
        self.port = port or free_port()
        self.dir = workdir / "redis"
        self.log = self.dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not answer on port {self.port}:\n{tail(self.log)}"
                )
            time.sleep(0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=10)
            self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Processes:
    """The processes of one test or benchmark run, all in `workdir`, started with `env`
    (plus what each start adds), and all ended by `close()`."""

    workdir: Path
    env: Mapping[str, str]
    services: list[Service] = field(default_factory=list)
    redis: RedisServer | None = None
    _starts: dict[str, int] = field(default_factory=dict)

    def start_redis(self) -> RedisServer:
        self.redis = RedisServer(self.workdir)
        self.redis.start()
        return self.redis

    def start(
        self,
        name: str,
        command: list[str],
        env: Mapping[str, str] | None = None,
        ready: str = "",
    ) -> Service:
        """Start `command` in a session of its own, output to <workdir>/<name>.log (a new
        file for each start under the same name: <name>-2.log...). `ready` is the text
        its log shows once it is ready (see wait_ready)."""
        count = self._starts[name] = self._starts.get(name, 0) + 1
        log = self.workdir / (f"{name}.log" if count == 1 else f"{name}-{count}.log")
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name if count == 1 else f"{name} (start {count})", process, log, ready)
        self.services.append(service)
        return service

    def worker(
        self,
        name: str,
        concurrency: int = 1,
        env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Service:
        """A Celery worker (prefork pool) named <name>-<pid>@localhost, so that its log
        and pings tell it from the others. Waits until it is ready to take tasks unless
        `wait` is false (start several, then `wait_ready` them all: they start faster
        side by side than one after the other)."""
        service = self.start(
            name,
            celery_command(
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                "--hostname",
                f"{name}-{os.getpid()}@localhost",
                # Mingle waits a second for other workers' replies; the state it would
                # exchange (revoked task ids) is unused here.
                "--without-mingle",
                "--without-gossip",
            ),
            env,
            ready=" ready.",
        )
        if wait:
            self.wait_ready(service)
        return service

    def beat(
        self, name: str = "beat", env: Mapping[str, str] | None = None, wait: bool = True
    ) -> Service:
        """A Celery beat of its own (not a worker's -B), so that it can be stopped alone.
        Ready once it has sent the reminders task."""
        service = self.start(
            name,
            celery_command(
                "beat", "--loglevel=INFO", "--schedule", str(self.workdir / "beat-schedule")
            ),
            env,
            ready="Sending due task send-due-reminders",
        )
        if wait:
            self.wait_ready(service)
        return service

    def wait_ready(self, *services: Service, timeout: float = START_TIMEOUT) -> None:
        for service in services:
            self.wait_for(
                service.is_ready,
                timeout,
                f"{service.name} ready ({service.ready!r} in its log)",
            )

    def logs(self, lines: int = 25) -> str:
        parts = [
            f"--- {s.name} ({s.log.name}, last {lines} lines) ---\n{s.tail(lines)}"
            for s in self.services
        ]
        if self.redis is not None:
            parts.append(f"--- redis-server ---\n{tail(self.redis.log, 10)}")
        return "\n".join(parts)

    def wait_for(
        self,
        condition: Callable[[], object],
        timeout: float,
        what: str,
        alive: Iterable[Service] | None = None,
    ) -> float:
        """`wait_for` with the logs of every process here; by default every process that
        has not been stopped on purpose must stay up meanwhile."""
        watched = [s for s in self.services if s.running()] if alive is None else list(alive)
        return wait_for(condition, timeout, what, self.logs, watched)

    def kill(self, service: Service) -> None:
        """SIGKILL the service's whole process group: no warm shutdown, no clean-up."""
        kill_group(service.process)

    def stop(self, service: Service) -> None:
        stop(service.process)

    def close(self) -> None:
        """End every process: workers and beat warm first (in parallel), then Redis."""
        for service in self.services:
            if service.running():
                service.process.send_signal(signal.SIGTERM)
        for service in self.services:
            stop(service.process, timeout=SHUTDOWN_TIMEOUT)
        if self.redis is not None:
            self.redis.stop()
