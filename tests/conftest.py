from __future__ import annotations

import os
from typing import Any

import pytest


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Name the database and Redis the run used, read from the servers themselves."""
    return [f"database: {_database_version()}", f"redis: {_redis_version()}"]


def _database_version() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    connection.close()
    return f"PostgreSQL {row[0] if row else 'unknown'} ({url.rsplit('@', 1)[-1]})"


def _redis_version() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        return "not started (run the suite with `make test`)"
    import redis

    info: Any = redis.Redis.from_url(url).info("server")
    return f"Redis {info['redis_version']} ({url})"


def _isolate_xdist_worker() -> None:
    """Under pytest-xdist, give each test process its own Redis databases (cache and broker).

    The Celery workers that tests start inherit this process's environment; on a shared
    broker queue one test's worker would run another test's tasks against the wrong
    database. pytest-django already gives each process its own test database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    from django.conf import settings

    number = int(worker[2:])
    for name, offset in (("REDIS_URL", 0), ("CELERY_BROKER_URL", 1)):
        url = os.environ.get(name, "")
        if url.startswith("redis://"):
            os.environ[name] = f"{url.rsplit('/', 1)[0]}/{2 * number + offset}"
    if settings.REDIS_URL:
        settings.REDIS_URL = os.environ["REDIS_URL"]
        settings.CACHES = {
            **settings.CACHES,
            "default": {**settings.CACHES["default"], "LOCATION": settings.REDIS_URL},
        }
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
        from config.celery_app import app

        # The app reads its configuration lazily; make sure it reads the worker's broker.
        app.conf.broker_url = settings.CELERY_BROKER_URL


# Modules with these markers hold the long tests (real worker processes waiting out
# schedules, a browser): they run first, so that under pytest-xdist they overlap the rest
# of the suite instead of finishing it alone.
SLOW_MARKERS = ("services", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_modules = {
        item.nodeid.split("::")[0]
        for item in items
        if isinstance(item, pytest.Function)
        and any(item.get_closest_marker(m) for m in SLOW_MARKERS)
    }
    items.sort(key=lambda item: 0 if item.nodeid.split("::")[0] in slow_modules else 1)


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    _isolate_xdist_worker()

    # Hashing passwords at full strength would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # WhiteNoise warns at start-up when STATIC_ROOT is missing; the tests never collect.
    from pathlib import Path

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    # The manifest storage needs collectstatic; the tests serve assets from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
