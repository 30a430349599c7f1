"""Small readers for environment variables that fail loudly.

Every setting the app takes from the environment goes through one of these, so a bad
value stops start-up with a message naming the variable instead of surfacing later as
an odd behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    value = environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set.")
        return default
    return value


def env_bool(name: str, default: bool, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}."
    )


def env_int(
    name: str,
    default: int,
    environ: Mapping[str, str] = os.environ,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}; got {value}.")
    return value


def env_list(name: str, default: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(
    name: str,
    default: list[int],
    environ: Mapping[str, str] = os.environ,
    minimum: int | None = None,
    maximum: int | None = None,
) -> list[int]:
    """A comma-separated list of whole numbers, each within the bounds."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    values = []
    for item in (part.strip() for part in raw.split(",")):
        values.append(env_int(name, 0, {name: item}, minimum, maximum))
    return values


def env_int_mapping(
    name: str,
    default: dict[str, int],
    keys: set[str],
    environ: Mapping[str, str] = os.environ,
    minimum: int | None = None,
    maximum: int | None = None,
) -> dict[str, int]:
    """`key=number` pairs separated by commas; keys not given keep their default."""
    raw = environ.get(name)
    values = dict(default)
    if raw is None or raw.strip() == "":
        return values
    for pair in (part.strip() for part in raw.split(",") if part.strip()):
        key, sep, number = pair.partition("=")
        key = key.strip()
        if not sep or key not in keys:
            raise ImproperlyConfigured(
                f"{name} must be key=number pairs with keys among {sorted(keys)}; got {pair!r}."
            )
        values[key] = env_int(name, 0, {name: number.strip()}, minimum, maximum)
    return values


def env_database(
    name: str, default_url: str, environ: Mapping[str, str] = os.environ
) -> dict[str, Any]:
    url = environ.get(name) or default_url
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url))
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a usable database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ImproperlyConfigured(
            f"{name} must point to PostgreSQL (postgres://...) or SQLite (sqlite:///...); "
            f"got engine {engine or 'unknown'!r}."
        )
    return config


def env_choice(
    name: str, default: str, choices: set[str], environ: Mapping[str, str] = os.environ
) -> str:
    value = environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}; got {value!r}.")
    return value
