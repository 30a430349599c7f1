"""Configuration from the environment: a bad value stops start-up with a message that
names the variable, and the defaults give a working configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_database, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent

# --- env_str ---------------------------------------------------------------------------


def test_env_str_reads_the_value_or_the_default() -> None:
    assert env_str("GREETING", "hello", environ={"GREETING": "hi"}) == "hi"
    assert env_str("GREETING", "hello", environ={}) == "hello"


def test_env_str_without_a_default_must_be_set() -> None:
    with pytest.raises(ImproperlyConfigured, match="GREETING"):
        env_str("GREETING", environ={})


# --- env_bool --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on", " on "])
def test_env_bool_true_values(raw: str) -> None:
    assert env_bool("FEATURE_FLAG", False, environ={"FEATURE_FLAG": raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "OFF", ""])
def test_env_bool_false_values(raw: str) -> None:
    assert env_bool("FEATURE_FLAG", True, environ={"FEATURE_FLAG": raw}) is False


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_default(default: bool) -> None:
    assert env_bool("FEATURE_FLAG", default, environ={}) is default


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "enabled"])
def test_env_bool_bad_value_names_the_variable(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="FEATURE_FLAG") as error:
        env_bool("FEATURE_FLAG", False, environ={"FEATURE_FLAG": raw})
    assert repr(raw) in str(error.value)


# --- env_int ---------------------------------------------------------------------------


def test_env_int_reads_the_value_or_the_default() -> None:
    assert env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "587"}) == 587
    assert env_int("EMAIL_PORT", 25, environ={}) == 25
    assert env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "  "}) == 25


@pytest.mark.parametrize("raw", ["abc", "1.5", "25 ports", "0x19"])
def test_env_int_not_a_number_names_the_variable(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):
        env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": raw})


def test_env_int_out_of_range_names_the_variable_and_the_limit() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_PORT must be at least 1"):
        env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "0"}, minimum=1)
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_PORT must be at most 65535"):
        env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "70000"}, maximum=65535)
    assert env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "1"}, minimum=1) == 1


# --- env_list --------------------------------------------------------------------------


def test_env_list_splits_on_commas_and_drops_blanks() -> None:
    environ = {"ALLOWED_HOSTS": " example.org, www.example.org ,, "}
    assert env_list("ALLOWED_HOSTS", [], environ=environ) == ["example.org", "www.example.org"]


def test_env_list_default_is_a_copy() -> None:
    default = ["localhost"]
    value = env_list("ALLOWED_HOSTS", default, environ={})
    assert value == ["localhost"]
    value.append("example.org")
    assert default == ["localhost"]


def test_env_list_set_but_empty_is_an_empty_list() -> None:
    assert env_list("ALLOWED_HOSTS", ["localhost"], environ={"ALLOWED_HOSTS": ""}) == []


# --- env_database ----------------------------------------------------------------------


def test_env_database_default_is_used_when_unset_or_empty() -> None:
    for environ in ({}, {"DATABASE_URL": ""}):
        config = env_database("DATABASE_URL", "sqlite:////tmp/demo.sqlite3", environ=environ)
        assert config["ENGINE"] == "django.db.backends.sqlite3"
        assert config["NAME"] == "/tmp/demo.sqlite3"


def test_env_database_reads_a_postgres_url() -> None:
    config = env_database(
        "DATABASE_URL",
        "sqlite:///x.sqlite3",
        environ={"DATABASE_URL": "postgres://mdt:secret@db.internal:5433/casework"},
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        5433,
        "casework",
        "mdt",
    )


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://user@host/db",
        "oracle://user@host/db",
        "postgres://user@host:notaport/db",
    ],
)
def test_env_database_bad_url_names_the_variable(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env_database("DATABASE_URL", "sqlite:///x.sqlite3", environ={"DATABASE_URL": url})


# --- env_choice ------------------------------------------------------------------------


def test_env_choice_reads_the_value_or_the_default() -> None:
    choices = {"file", "smtp", "console"}
    assert env_choice("EMAIL_MODE", "file", choices, environ={"EMAIL_MODE": "smtp"}) == "smtp"
    assert env_choice("EMAIL_MODE", "file", choices, environ={}) == "file"


@pytest.mark.parametrize("raw", ["SMTP", "sendmail", ""])
def test_env_choice_bad_value_names_the_variable_and_the_choices(raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_MODE") as error:
        env_choice("EMAIL_MODE", "file", {"file", "smtp", "console"}, environ={"EMAIL_MODE": raw})
    assert "smtp" in str(error.value)


# --- Importing the settings ------------------------------------------------------------

SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()"
)


def start_django(tmp_path: Path, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Start Django in a fresh interpreter with a production-like environment, changed by
    `overrides` (None removes a variable)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "TIME_ZONE"}
    }
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "a-secret-key-for-this-test-only-0123456789abcdef",
            "VAR_DIR": str(tmp_path / "var"),
            "CELERY_BROKER_URL": "filesystem://",
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", SETUP],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def final_error(result: subprocess.CompletedProcess[str]) -> str:
    """The exception line of the traceback (the message itself, not the source lines the
    traceback quotes, which name the variable whatever the message says)."""
    assert result.returncode != 0, "Django started although it should have refused"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no error output"
    last = lines[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    return last


def test_settings_load_with_a_complete_environment(tmp_path: Path) -> None:
    result = start_django(tmp_path)
    assert result.returncode == 0, result.stderr


def test_settings_without_secret_key_and_debug_off_refuse_to_load(tmp_path: Path) -> None:
    assert "SECRET_KEY" in final_error(start_django(tmp_path, SECRET_KEY=None))


def test_settings_without_secret_key_load_with_debug_on(tmp_path: Path) -> None:
    result = start_django(tmp_path, SECRET_KEY=None, DEBUG="1")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://user@host/db"),
        ("DATABASE_URL", "not a url"),
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("DEBUG", "perhaps"),
        ("EMAIL_PORT", "twenty-five"),
        ("EMAIL_MODE", "pigeon"),
        ("CELERY_BROKER_URL", "kafka://broker:9092"),
    ],
)
def test_settings_with_a_bad_value_name_the_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    assert variable in final_error(start_django(tmp_path, **{variable: value}))
