#!/usr/bin/env python3
"""Runs the test suite on real services started for the run and stopped afterwards:
a throwaway PostgreSQL cluster from the machine's server binaries and a Redis server.

    python scripts/run_tests.py [pytest arguments]

The tests run in one process per core (pytest-xdist; TEST_WORKERS=N sets how many, 0 runs
them in this process). TEST_DB=sqlite runs on SQLite instead of PostgreSQL (Redis is
still started). Missing
system packages (Redis, Chromium) are installed with apt-get when running as root on
Debian; otherwise the script stops and names what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PACKAGES = {"redis-server": "redis-server", "chromium": "/usr/bin/chromium"}


def fail(message: str) -> None:
    print(f"run_tests: {message}", file=sys.stderr)
    sys.exit(2)


def is_root() -> bool:
    return os.geteuid() == 0


def ensure_system_packages() -> None:
    missing = [pkg for pkg, exe in SYSTEM_PACKAGES.items() if not shutil.which(exe)]
    if not missing:
        return
    if is_root() and Path("/etc/debian_version").exists():
        print(f"run_tests: installing {', '.join(missing)} with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        return
    fail(f"please install these system packages first: {' '.join(missing)}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    fail("PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql.")
    raise AssertionError  # unreachable, for type checkers


def as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *command] if is_root() else command


class Postgres:
    def __init__(self, workdir: Path) -> None:
        self.bin = postgres_bin()
        self.dir = workdir / "pg"
        self.port = free_port()

    def start(self) -> str:
        self.dir.mkdir()
        if is_root():
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.dir.parent, "postgres", "postgres")
        data = self.dir / "data"
        subprocess.run(
            as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Durability is worthless for a throwaway cluster and costs seconds per test run.
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.dir / "log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        data = self.dir / "data"
        if data.exists():
            subprocess.run(
                as_postgres([str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


class Redis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.dir.mkdir()
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
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return f"redis://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.1)
        fail("Redis did not start within 15 seconds.")
        raise AssertionError

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


def parallel(pytest_args: list[str]) -> list[str]:
    """pytest-xdist options: one test process per core (TEST_WORKERS overrides; 0 runs in
    this process). Each process gets its own test database (pytest-django) and its own
    Redis databases (tests/conftest.py). Tests of one module stay in one process, so a
    module's fixtures are built once."""
    if any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in pytest_args):
        return []
    workers = os.environ.get("TEST_WORKERS", "").strip() or str(os.cpu_count() or 1)
    if workers == "0":
        return []
    # In collection order, not largest module first: tests/conftest.py puts the modules
    # with long real-process tests first, so that they overlap the rest of the suite.
    return ["-n", workers, "--dist", "loadscope", "--no-loadscope-reorder"]


def main(pytest_args: list[str]) -> int:
    ensure_system_packages()
    use_sqlite = os.environ.get("TEST_DB", "postgres").lower() == "sqlite"
    workdir = Path(tempfile.mkdtemp(prefix="mdt-test-"))
    postgres = None if use_sqlite else Postgres(workdir)
    redis = Redis(workdir)
    try:
        env = dict(os.environ)
        redis_url = redis.start()
        env.update(
            {
                "REDIS_URL": f"{redis_url}/0",
                "CELERY_BROKER_URL": f"{redis_url}/1",
                "SECRET_KEY": "test-only-secret-key-not-used-anywhere-else-0123456789",
                "DEBUG": "0",
                "VAR_DIR": str(workdir / "var"),
                # Playwright's sync API runs an event loop in the test thread; the tests
                # that use it touch the database only outside the browser calls.
                "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
            }
        )
        if postgres is not None:
            env["DATABASE_URL"] = postgres.start()
        else:
            env.pop("DATABASE_URL", None)
        command = [sys.executable, "-m", "pytest", *parallel(pytest_args), *pytest_args]
        result = subprocess.run(command, cwd=ROOT, env=env)
        # pytest exits 5 when nothing was collected: that is a failure of the suite here.
        return 1 if result.returncode == 5 else result.returncode
    finally:
        redis.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
