"""The production shape (Dockerfile, docker-compose.yml, .env.example), checked without Docker.

There is no Docker engine where the suite runs, so these tests parse the files and check every
name they rely on against the code: the services and their images, health checks, volumes and
start-up order; each command's program, module, WSGI callable, Celery app, scheduled tasks and
management command; and every environment variable, which must be one that something reads.
No test needs a database.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import CommandError, get_commands, load_command_class
from django.http.request import validate_host
from django.urls import resolve
from gunicorn.config import Config as GunicornConfig  # type: ignore[import-untyped]
from gunicorn.util import import_app  # type: ignore[import-untyped]

from config.env import env_bool, env_list

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"

APP_SERVICES = ("web", "worker", "beat", "migrate")
ALL_SERVICES = (*APP_SERVICES, "db", "redis")
ONE_SHOT_SERVICES = ("migrate",)
IMAGE_NAME = "mdt-casework:latest"

# Variables that are not Django settings, with what reads them. Anything else the compose file
# or .env.example sets must be read by the settings module.
NON_SETTINGS_VARIABLES = {
    "POSTGRES_DB": "the postgres image (db service), and DATABASE_URL in docker-compose.yml",
    "POSTGRES_USER": "the postgres image (db service), and DATABASE_URL in docker-compose.yml",
    "POSTGRES_PASSWORD": "the postgres image (db service), and DATABASE_URL in docker-compose.yml",
    "WEB_CONCURRENCY": "gunicorn: its default number of workers",
}


# --- Reading the files ---------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def service(name: str) -> dict[str, Any]:
    services = compose().get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r}"
    value = services[name]
    assert isinstance(value, dict)
    return value


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str


@dataclass(frozen=True)
class Stage:
    base: str
    alias: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def index(self, instruction: Instruction) -> int:
        return self.instructions.index(instruction)


@cache
def dockerfile_instructions() -> tuple[Instruction, ...]:
    """Logical instructions: comment lines dropped, continuation lines joined."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = pending + line
        pending = ""
        if not line:
            continue
        keyword, _, value = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return tuple(instructions)


@cache
def dockerfile_stages() -> tuple[Stage, ...]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    base: str | None = None
    alias: str | None = None

    def substitute(match: re.Match[str]) -> str:
        return global_args.get(match.group(1), match.group(0))

    for instruction in dockerfile_instructions():
        if instruction.keyword == "FROM":
            if current is not None and base is not None:
                stages.append(Stage(base, alias, tuple(current)))
            words = instruction.value.split()
            words = [w for w in words if not w.startswith("--platform")]
            base = re.sub(r"\$\{?(\w+)\}?", substitute, words[0])
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            current = []
        elif current is None:
            if instruction.keyword == "ARG":
                name, _, default = instruction.value.partition("=")
                global_args[name.strip()] = default.strip()
        else:
            current.append(instruction)
    assert current is not None and base is not None, "Dockerfile has no FROM"
    stages.append(Stage(base, alias, tuple(current)))
    return tuple(stages)


def final_stage() -> Stage:
    return dockerfile_stages()[-1]


def exec_form(instruction: Instruction) -> list[str]:
    try:
        value = json.loads(instruction.value)
    except json.JSONDecodeError:
        pytest.fail(f"{instruction.keyword} {instruction.value} is not in JSON (exec) form")
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def image_environment() -> dict[str, str]:
    """ENV of the final stage, as the containers start with it."""
    env: dict[str, str] = {}
    for instruction in final_stage().all("ENV"):
        words = shlex.split(instruction.value)
        if words and "=" not in words[0]:  # legacy form: ENV NAME value
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def image_entrypoint_and_cmd() -> tuple[list[str], list[str]]:
    stage = final_stage()
    entrypoints, cmds = stage.all("ENTRYPOINT"), stage.all("CMD")
    entrypoint = exec_form(entrypoints[-1]) if entrypoints else []
    assert cmds, "the Dockerfile's final stage has no CMD"
    return entrypoint, exec_form(cmds[-1])


_ENV_LINE = re.compile(
    r"^(?P<comment>#\s*)?(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$"
)


@cache
def env_example() -> tuple[dict[str, str], frozenset[str]]:
    """The active NAME=value lines of .env.example, and the names of commented-out ones."""
    assert ENV_EXAMPLE.exists(), ".env.example is missing"
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ENV_LINE.match(line.strip())
        if not match:
            continue
        if match.group("comment"):
            commented.add(match.group("name"))
            continue
        value = match.group("value").strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        active[match.group("name")] = value
    return active, frozenset(commented)


# Secrets .env.example leaves blank, so that an unedited copy cannot start (checked below).
# The other tests fill them in, as an operator would.
BLANK_SECRETS = {
    "SECRET_KEY": "filled-in-by-the-operator-0123456789-abcdefghijklmnopqrstuvwxyz",
    "POSTGRES_PASSWORD": "filled-in-by-the-operator",
}


def deployed_dotenv() -> dict[str, str]:
    """.env as an operator would write it from .env.example: the blank secrets filled in."""
    active, _ = env_example()
    return {**active, **{k: v for k, v in BLANK_SECRETS.items() if not active.get(k)}}


# --- Compose interpolation and service helpers ------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(AssertionError):
    """docker compose would refuse to start: a ${VAR:?} variable is not set."""


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ (a literal $)."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        present = current is not None and (current != "" or not (op or "").startswith(":"))
        if op in ("?", ":?") and not present:
            raise MissingVariableError(f"${{{name}}} is required but not set: {arg}")
        if op in ("-", ":-") and not present:
            return arg
        if op in ("+", ":+"):
            return arg if present else ""
        return current or ""

    return _INTERPOLATION.sub(replace, value)


def interpolated_names(node: object) -> dict[str, str | None]:
    """Every variable docker-compose.yml interpolates, with its operator (None, '-', ':?'...)."""
    found: dict[str, str | None] = {}
    if isinstance(node, str):
        for match in _INTERPOLATION.finditer(node):
            name = match.group("braced") or match.group("named")
            if name:
                found[name] = match.group("op")
    elif isinstance(node, dict):
        for key, value in node.items():
            found.update(interpolated_names(key))
            found.update(interpolated_names(value))
    elif isinstance(node, list):
        for item in node:
            found.update(interpolated_names(item))
    return found


def unescape(value: str) -> str:
    """A value as the container sees it: compose turns $$ into $."""
    return value.replace("$$", "$")


def service_environment(svc: Mapping[str, Any]) -> dict[str, str]:
    """The `environment` of a service (mapping or list form), not yet interpolated."""
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {name: value for name, _, value in pairs}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def env_files(svc: Mapping[str, Any]) -> list[str]:
    raw = svc.get("env_file") or []
    items = [raw] if isinstance(raw, str | dict) else list(raw)
    return [str(item["path"]) if isinstance(item, dict) else str(item) for item in items]


def container_environment(name: str) -> dict[str, str]:
    """What a container of the service would see with .env copied from .env.example:
    image ENV, overridden by env_file, overridden by `environment` (Docker's precedence)."""
    svc = service(name)
    dotenv = deployed_dotenv()
    env = image_environment() if name in APP_SERVICES else {}
    if ".env" in env_files(svc):
        env.update(dotenv)
    env.update({k: interpolate(v, dotenv) for k, v in service_environment(svc).items()})
    return env


def command_argv(name: str) -> list[str]:
    """The argv a container of the service runs: ENTRYPOINT plus command (or the image's CMD)."""
    svc = service(name)
    entrypoint, cmd = image_entrypoint_and_cmd()
    if "entrypoint" in svc:
        raw_entrypoint = svc["entrypoint"]
        entrypoint = (
            shlex.split(raw_entrypoint) if isinstance(raw_entrypoint, str) else raw_entrypoint
        )
    raw = svc.get("command")
    if raw is not None:
        cmd = shlex.split(raw) if isinstance(raw, str) else [str(word) for word in raw]
    dotenv = deployed_dotenv()
    return [unescape(interpolate(word, dotenv)) for word in [*entrypoint, *cmd]]


def healthcheck_argv(name: str) -> list[str]:
    """The health check's argv; a CMD-SHELL string is split the way sh would split it."""
    test = (service(name).get("healthcheck") or {}).get("test")
    assert test, f"service {name!r} has no healthcheck test"
    dotenv = deployed_dotenv()
    if isinstance(test, str):
        return shlex.split(unescape(interpolate(test, dotenv)))
    words = [unescape(interpolate(str(word), dotenv)) for word in test]
    if words[0] == "CMD":
        return words[1:]
    assert words[0] == "CMD-SHELL", f"{name}: healthcheck test must start with CMD or CMD-SHELL"
    return shlex.split(" ".join(words[1:]))


def volume_mounts(svc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every mount; a named volume's source has no slash."""
    mounts: list[tuple[str, str]] = []
    for entry in svc.get("volumes") or []:
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:  # anonymous volume
                mounts.append(("", parts[0]))
            else:
                mounts.append((parts[0], parts[1]))
    return mounts


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


def depends_on(svc: Mapping[str, Any]) -> dict[str, str]:
    raw = svc.get("depends_on") or {}
    assert isinstance(raw, dict), "depends_on must use the long form, with a condition each"
    return {
        target: (spec or {}).get("condition", "service_started") for target, spec in raw.items()
    }


# --- What the settings read ------------------------------------------------------------------


@cache
def settings_variables() -> frozenset[str]:
    """Every environment variable the settings module reads, found in its source: the readers
    imported from config.env, and os.environ / os.getenv."""
    module = importlib.import_module(settings.SETTINGS_MODULE)
    assert module.__file__
    tree = ast.parse(Path(module.__file__).read_text())
    readers = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "config.env"
        for alias in node.names
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Call):
            func = node.func
            direct = isinstance(func, ast.Name) and func.id in readers
            via_os = isinstance(func, ast.Attribute) and ast.unparse(func) in {
                "os.environ.get",
                "os.getenv",
                "os.environ.setdefault",
            }
            if (direct or via_os) and node.args:
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return frozenset(names)


def test_the_settings_variables_are_found() -> None:
    # Guards the source scan: if it found nothing, the checks below would mean nothing.
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS"} <= (
        settings_variables()
    )


# --- Services, images, health checks, start-up order, volumes -------------------------------


def test_every_service_exists() -> None:
    for name in ALL_SERVICES:
        service(name)


def test_app_services_share_one_image_built_from_the_dockerfile() -> None:
    for name in APP_SERVICES:
        svc = service(name)
        assert svc.get("image") == IMAGE_NAME, f"{name}: image"
        build = svc.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context == ".", f"{name}: build context must be '.'"
        dockerfile = "Dockerfile" if isinstance(build, str) else (build or {}).get("dockerfile")
        assert (ROOT / (dockerfile or "Dockerfile")).resolve() == DOCKERFILE


def test_base_images() -> None:
    assert str(service("db").get("image", "")).startswith("postgres:15")
    assert str(service("redis").get("image", "")).startswith("redis:7")
    aliases = {stage.alias for stage in dockerfile_stages()}
    external = [stage.base for stage in dockerfile_stages() if stage.base not in aliases]
    assert external
    for base in external:
        assert base.startswith("python:3.11-slim"), f"Dockerfile base image {base}"


def test_long_running_services_have_health_checks_and_restart() -> None:
    for name in ALL_SERVICES:
        svc = service(name)
        if name in ONE_SHOT_SERVICES:
            # A one-shot job must not be restarted once it has exited 0.
            assert str(svc.get("restart", "no")) == "no", f"{name}: restart"
            assert not (svc.get("healthcheck") or {}).get("test"), f"{name}: healthcheck"
            continue
        healthcheck = svc.get("healthcheck") or {}
        assert not healthcheck.get("disable"), f"{name}: healthcheck disabled"
        assert healthcheck_argv(name), f"{name}: healthcheck"
        assert svc.get("restart") == "unless-stopped", f"{name}: restart"


def test_start_up_waits_for_health_and_migrations() -> None:
    expected = {
        "migrate": {"db"},
        "web": {"migrate", "db", "redis"},
        "worker": {"migrate", "db", "redis"},
        "beat": {"migrate", "redis"},
    }
    for name in ALL_SERVICES:
        dependencies = depends_on(service(name))
        assert expected.get(name, set()) <= set(dependencies), f"{name}: depends_on"
        for target, condition in dependencies.items():
            service(target)
            wanted = (
                "service_completed_successfully"
                if target in ONE_SHOT_SERVICES
                else "service_healthy"
            )
            assert condition == wanted, f"{name} -> {target}: condition {condition}"


def test_named_volumes_are_declared_and_used() -> None:
    declared = set((compose().get("volumes") or {}).keys())
    used = {
        source
        for svc in compose()["services"].values()
        for source, _ in volume_mounts(svc)
        if is_named_volume(source)
    }
    assert declared, "no named volumes declared"
    assert used <= declared, f"volumes used but not declared: {sorted(used - declared)}"
    assert declared <= used, f"volumes declared but not used: {sorted(declared - used)}"
    targets = {name: {t for _, t in volume_mounts(service(name))} for name in ("db", "redis")}
    assert "/var/lib/postgresql/data" in targets["db"]
    assert "/data" in targets["redis"]


def container_static_root() -> PurePosixPath:
    relative = Path(settings.STATIC_ROOT).relative_to(Path(settings.VAR_DIR))
    return PurePosixPath(image_environment()["VAR_DIR"]) / relative.as_posix()


def test_no_volume_hides_what_the_image_holds() -> None:
    # A volume over STATIC_ROOT (or /app/var, or /app) would keep serving the static files of
    # the image it was first created from, after every rebuild.
    static_root = container_static_root()
    hidden = {static_root, *static_root.parents} - {PurePosixPath("/")}
    for name in APP_SERVICES:
        for _, target in volume_mounts(service(name)):
            assert PurePosixPath(target) not in hidden, f"{name}: a volume at {target}"


# --- Commands -------------------------------------------------------------------------------


def check_gunicorn(args: list[str]) -> Any:
    """Parses the arguments as gunicorn does and imports the WSGI application."""
    config = GunicornConfig()
    try:
        namespace = config.parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"gunicorn rejects its arguments: {args}")
    for key, value in vars(namespace).items():
        if key != "args" and value is not None:
            config.set(key.lower(), value)
    assert len(namespace.args) == 1, f"gunicorn needs one APP_MODULE, got {namespace.args}"
    target = namespace.args[0]
    with warnings.catch_warnings():
        # whitenoise warns when STATIC_ROOT does not exist yet, as in the test environment.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        application = import_app(target)
    assert callable(application), f"{target} is not a WSGI callable"
    module, _, attribute = target.partition(":")
    assert f"{module}.{attribute}" == settings.WSGI_APPLICATION
    return config


def check_celery(args: list[str]) -> tuple[Celery, str, dict[str, Any]]:
    """Finds the app as `celery -A` does and parses the sub-command's options."""
    if args and args[0].startswith("--app="):
        args = ["-A", args[0].removeprefix("--app="), *args[1:]]
    assert len(args) >= 3 and args[0] in ("-A", "--app"), f"celery {args}: -A APP first"
    app_name, subcommand, rest = args[1], args[2], args[3:]
    module = importlib.import_module(app_name)
    declared = [getattr(module, a, None) for a in ("celery_app", "app", "celery")]
    assert any(isinstance(a, Celery) for a in declared), f"{app_name} has no Celery app"
    app = find_app(app_name)
    assert isinstance(app, Celery)
    assert app is importlib.import_module("config.celery_app").app
    assert subcommand in celery_cli.commands, f"celery has no {subcommand!r} command"
    parent = click.Context(
        celery_cli,
        info_name="celery",
        obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True),
    )
    try:
        context = celery_cli.commands[subcommand].make_context(subcommand, rest, parent=parent)
    except click.ClickException as exc:
        pytest.fail(f"celery {subcommand} rejects {rest}: {exc.format_message()}")
    return app, subcommand, context.params


def check_manage_py(args: list[str]) -> str:
    name, rest = args[0], args[1:]
    commands = get_commands()
    assert name in commands, f"manage.py has no {name!r} command"
    command = load_command_class(commands[name], name)
    try:
        command.create_parser("manage.py", name).parse_args(rest)
    except CommandError as exc:
        pytest.fail(f"manage.py {name} rejects {rest}: {exc}")
    return name


def check_python_code(code: str, label: str) -> None:
    try:
        compile(code, label, "exec")
    except SyntaxError as exc:
        pytest.fail(f"{label}: {exc}")


def check_argv(argv: list[str], label: str) -> str:
    """Checks one command line; answers the program it runs."""
    assert argv, f"{label}: empty command"
    program = PurePosixPath(argv[0]).name
    if program in ("sh", "bash") and argv[1:2] == ["-c"]:
        script = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", argv[2])  # ${VAR:-default} -> default
        words = shlex.split(script)
        return check_argv(words[1:] if words[:1] == ["exec"] else words, label)
    if program == "gunicorn":
        check_gunicorn(argv[1:])
    elif program == "celery":
        check_celery(argv[1:])
    elif program.startswith("python") and argv[1:2] == ["manage.py"]:
        check_manage_py(argv[2:])
    elif program.startswith("python") and argv[1:2] == ["-c"]:
        check_python_code(argv[2], label)
    else:
        pytest.fail(f"{label}: no check for the program {argv[0]!r}")
    return program


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_command_names_real_code(name: str) -> None:
    check_argv(command_argv(name), f"{name} command")
    if name in ("web", "worker", "beat"):
        check_argv(healthcheck_argv(name), f"{name} healthcheck")


def test_services_run_what_their_names_say() -> None:
    assert PurePosixPath(command_argv("web")[0]).name == "gunicorn"
    assert command_argv("worker")[:4] == ["celery", "-A", "config", "worker"]
    assert command_argv("beat")[:4] == ["celery", "-A", "config", "beat"]
    migrate = command_argv("migrate")
    assert migrate[-3:-1] == ["manage.py", "migrate"] and "--noinput" in migrate


def test_dockerfile_cmd_serves_the_wsgi_application_on_the_exposed_port() -> None:
    entrypoint, cmd = image_entrypoint_and_cmd()
    argv = [*entrypoint, *cmd]
    assert check_argv(argv, "Dockerfile CMD") == "gunicorn"
    config = check_gunicorn(argv[1:])
    ports = {address.rsplit(":", 1)[1] for address in config.bind}
    exposed = {word.split("/")[0] for i in final_stage().all("EXPOSE") for word in i.value.split()}
    assert ports == {"8000"} and ports <= exposed
    assert any(address.startswith("0.0.0.0:") for address in config.bind)
    # The web service publishes the port gunicorn listens on.
    published = {str(p).rsplit(":", 1)[-1] for p in service("web").get("ports") or []}
    assert published <= ports


def test_worker_healthcheck_pings_this_container_s_worker() -> None:
    _, subcommand, params = check_celery(command_argv("worker")[1:])
    assert subcommand == "worker" and params["hostname"].startswith("celery@")
    assert "-n" not in command_argv("worker") and "--hostname" not in command_argv("worker")
    _, subcommand, params = check_celery(healthcheck_argv("worker")[1:])
    assert subcommand == "inspect" and params["command"] == "ping"
    # Docker sets HOSTNAME; celery names the worker celery@<hostname> by default.
    assert params["destination"] == ["celery@$HOSTNAME"]


def test_beat_schedule_tasks_are_registered() -> None:
    app, subcommand, _ = check_celery(command_argv("beat")[1:])
    assert subcommand == "beat"
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert schedule, "CELERY_BEAT_SCHEDULE is empty"
    assert set(schedule) == set(settings.CELERY_BEAT_SCHEDULE)
    for entry_name, entry in schedule.items():
        assert entry["task"] in app.tasks, f"beat entry {entry_name}: {entry['task']} unknown"


def test_beat_schedule_file_is_on_a_volume_and_watched_by_the_healthcheck() -> None:
    _, _, params = check_celery(command_argv("beat")[1:])
    schedule = PurePosixPath(params["schedule"])
    mounts = [(s, PurePosixPath(t)) for s, t in volume_mounts(service("beat"))]
    assert any(is_named_volume(s) and t in schedule.parents for s, t in mounts), (
        f"the beat schedule {schedule} is not on a named volume"
    )
    # The image creates the folder, owned by the app user, so a new volume starts writable.
    var_dir = PurePosixPath(image_environment()["VAR_DIR"])
    assert schedule.is_relative_to(var_dir)
    healthcheck = healthcheck_argv("beat")
    assert healthcheck[:2] == ["python", "-c"] and str(schedule) in healthcheck[2]


def test_web_healthcheck_targets_the_health_view_on_the_gunicorn_port() -> None:
    argv = healthcheck_argv("web")
    assert argv[:2] == ["python", "-c"]
    urls = re.findall(r"https?://[^\s\"']+", argv[2])
    assert len(urls) == 1, urls
    url = urlsplit(urls[0])
    assert url.hostname == "127.0.0.1"
    config = check_gunicorn(command_argv("web")[1:])
    assert {str(url.port)} == {address.rsplit(":", 1)[1] for address in config.bind}
    view = resolve(url.path).func
    assert f"{view.__module__}.{view.__name__}" == "config.health.healthz"


@pytest.mark.parametrize(
    "allowed_hosts",
    [None, "casework.example.org", ".example.org,localhost", "*", " a.example.org , b.org"],
)
def test_web_healthcheck_request_passes_host_and_https_checks(
    allowed_hosts: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs the health check's code with urlopen replaced, in the environment of the web
    container (None: ALLOWED_HOSTS as in .env.example), and checks the request it sends would
    pass Django's host validation and not be redirected to HTTPS."""
    env = container_environment("web")
    if allowed_hosts is not None:
        env["ALLOWED_HOSTS"] = allowed_hosts
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sent: list[urllib.request.Request] = []

    def fake_urlopen(request: urllib.request.Request | str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, str):
            request = urllib.request.Request(request)
        sent.append(request)
        return io.BytesIO(b'{"status": "ok"}')

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    code = healthcheck_argv("web")[2]
    try:
        exec(compile(code, "web healthcheck", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        assert exc.code in (0, None), f"the health check exits {exc.code} on a 200 answer"
    assert len(sent) == 1
    request = sent[0]
    assert request.get_method() == "GET"
    host = request.get_header("Host") or urlsplit(request.full_url).netloc
    allowed = env_list("ALLOWED_HOSTS", [], environ=env)
    assert validate_host(host.rsplit(":", 1)[0], allowed), f"Host {host} not in {allowed}"
    if env_bool("BEHIND_TLS_PROXY", False, environ=env) and request.type == "http":
        assert request.get_header("X-forwarded-proto") == "https"


# --- Environment variables ------------------------------------------------------------------


def test_app_services_set_only_variables_the_settings_read() -> None:
    known = settings_variables()
    for name in APP_SERVICES:
        for variable in service_environment(service(name)):
            assert variable in known, f"{name} sets {variable}, which no setting reads"
        assert env_files(service(name)) == [".env"], f"{name}: env_file"


def test_env_example_lists_only_variables_something_reads() -> None:
    active, commented = env_example()
    known = settings_variables() | set(NON_SETTINGS_VARIABLES)
    unknown = (set(active) | commented) - known
    assert not unknown, f".env.example lists variables nothing reads: {sorted(unknown)}"


def test_env_example_documents_every_setting_variable() -> None:
    active, commented = env_example()
    missing = settings_variables() - set(active) - commented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_compose_interpolates_only_variables_of_env_example() -> None:
    active, commented = env_example()
    for name, op in interpolated_names(compose()).items():
        if op in ("?", ":?", None):
            assert name in active, f"docker-compose.yml needs ${{{name}}}: set it in .env.example"
        else:
            assert name in set(active) | commented, f"${{{name}}} is not in .env.example"


def test_non_settings_variables_are_read_where_claimed() -> None:
    active, _ = env_example()
    db_environment = service_environment(service("db"))
    for name in ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"):
        assert name in db_environment and name in active
        assert "${" in db_environment[name], f"db: {name} must come from .env"
    # gunicorn takes its default worker count from WEB_CONCURRENCY: check it really does.
    workers = active.get("WEB_CONCURRENCY") or image_environment().get("WEB_CONCURRENCY")
    assert workers and workers.isdigit()
    result = subprocess.run(
        [sys.executable, "-c", "from gunicorn.config import Config; print(Config().workers)"],
        env={**os.environ, "WEB_CONCURRENCY": workers},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == workers


def test_no_secret_is_written_into_the_compose_file_or_the_image() -> None:
    for name in ALL_SERVICES:
        environment = service_environment(service(name))
        assert "SECRET_KEY" not in environment, f"{name}: SECRET_KEY belongs in .env"
        for variable, value in environment.items():
            if "PASSWORD" in variable:
                assert value.startswith("${"), f"{name}: {variable} belongs in .env"
    for instruction in dockerfile_instructions():
        if instruction.keyword in ("ENV", "ARG"):
            assert "SECRET_KEY" not in instruction.value, "SECRET_KEY in the image's ENV/ARG"


_SETTINGS_PROBE = """
import json
import django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "DEBUG": s.DEBUG, "ENGINE": db["ENGINE"], "HOST": db["HOST"], "PORT": db["PORT"],
    "NAME": db["NAME"], "USER": db["USER"], "PASSWORD": db["PASSWORD"],
    "BROKER": s.CELERY_BROKER_URL, "CACHE": s.CACHES["default"]["BACKEND"],
    "STATIC_ROOT": str(s.STATIC_ROOT), "BEAT": s.CELERY_BEAT_SCHEDULE_FILENAME,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
}))
"""


def load_settings(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Imports the settings in a fresh process with exactly this environment (and PATH)."""
    return subprocess.run(
        [sys.executable, "-c", _SETTINGS_PROBE],
        cwd=ROOT,
        env={**env, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_load_in_each_app_container_environment(name: str) -> None:
    """The environment a container would have (image ENV, .env written from .env.example,
    compose `environment`) gives working production settings. No database needed."""
    result = load_settings(container_environment(name))
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    dotenv = deployed_dotenv()
    assert loaded["DEBUG"] is False
    assert loaded["ENGINE"] == "django.db.backends.postgresql"
    assert (loaded["HOST"], loaded["PORT"]) == ("db", 5432)
    assert loaded["NAME"] == dotenv["POSTGRES_DB"]
    assert (loaded["USER"], loaded["PASSWORD"]) == (
        dotenv["POSTGRES_USER"],
        dotenv["POSTGRES_PASSWORD"],
    )
    assert loaded["BROKER"].startswith("redis://redis:6379/")
    assert loaded["CACHE"] == "django.core.cache.backends.redis.RedisCache"
    assert PurePosixPath(loaded["STATIC_ROOT"]) == container_static_root()
    assert loaded["ALLOWED_HOSTS"], "ALLOWED_HOSTS is empty: every request would answer 400"
    if name == "beat":
        _, _, params = check_celery(command_argv("beat")[1:])
        assert loaded["BEAT"] == params["schedule"]


def test_an_unedited_copy_of_env_example_does_not_start() -> None:
    active, _ = env_example()
    for name in BLANK_SECRETS:
        assert active.get(name) == "", f".env.example must leave {name} blank"
    # docker compose refuses to interpolate DATABASE_URL and the db password...
    for name in ("web", "db"):
        for value in service_environment(service(name)).values():
            if "POSTGRES_PASSWORD" in value:
                with pytest.raises(MissingVariableError):
                    interpolate(value, active)
    # ...and the settings refuse a blank SECRET_KEY.
    result = load_settings({**container_environment("web"), "SECRET_KEY": active["SECRET_KEY"]})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user() -> None:
    stage = final_stage()
    users = stage.all("USER")
    assert users, "the final stage has no USER"
    user = users[-1].value.split(":")[0]
    assert user not in ("root", "0"), f"USER {user}"
    assert stage.index(users[-1]) < stage.index(stage.all("CMD")[-1])
    # The user is created in the image.
    assert any(
        i.keyword == "RUN" and re.search(rf"useradd\b.*\b{re.escape(user)}\b", i.value)
        for i in stage.instructions
    )


def test_dockerfile_environment_and_port() -> None:
    env = image_environment()
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE) == settings.SETTINGS_MODULE
    assert env.get("VAR_DIR") == "/app/var"
    for name in APP_SERVICES:
        assert service_environment(service(name)).get("VAR_DIR", "/app/var") == "/app/var"
    assert "8000" in {w.split("/")[0] for i in final_stage().all("EXPOSE") for w in i.value.split()}
    workdirs = final_stage().all("WORKDIR")
    assert workdirs and workdirs[-1].value == "/app"


def run_lines(stage: Stage) -> list[Instruction]:
    return stage.all("RUN")


def test_dockerfile_installs_the_project_and_collects_static_files() -> None:
    stages = dockerfile_stages()
    runs = [i.value for stage in stages for i in run_lines(stage)]
    installs = [r for r in runs if re.search(r"pip install\b[^&;|]*\s\.(\s|$)", r)]
    assert installs, "no `pip install .`"
    assert not any(re.search(r"pip install\b[^&;|]*(-e|--editable)\b", r) for r in runs)
    # Build dependencies of psycopg2 where it is compiled, libpq at run time.
    assert any("gcc" in r and "libpq-dev" in r for r in runs)
    assert any("libpq5" in i.value for i in run_lines(final_stage()))
    assert not any("libpq-dev" in i.value for i in run_lines(final_stage()))

    stage = final_stage()
    collect = [i for i in run_lines(stage) if "collectstatic" in i.value]
    assert len(collect) == 1, "one collectstatic in the final stage"
    command = collect[0].value
    assert "--noinput" in command
    assert re.search(r"\bSECRET_KEY=\S+", command), "collectstatic needs an inline SECRET_KEY"
    assert re.search(r"\bDEBUG=(0|false|no|off)\b", command), "collectstatic with DEBUG off"
    # VAR_DIR is set before it runs, so STATIC_ROOT is where the containers look.
    var_dir_env = [i for i in stage.all("ENV") if "VAR_DIR=" in i.value]
    assert var_dir_env and stage.index(var_dir_env[0]) < stage.index(collect[0])
    copies = [i for i in stage.all("COPY") if re.fullmatch(r"(--\S+\s+)*\.\s+(\.|/app/?)", i.value)]
    assert copies and stage.index(copies[0]) < stage.index(collect[0]), "COPY . . first"


# --- Git and the build context --------------------------------------------------------------


def git_ignored(path: str) -> bool:
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, capture_output=True
    )
    if result.returncode not in (0, 1):
        pytest.skip(f"git check-ignore failed: {result.stderr!r}")
    return result.returncode == 0


def test_env_is_git_ignored_and_env_example_is_not() -> None:
    assert ENV_EXAMPLE.exists()
    assert git_ignored(".env")
    assert not git_ignored(".env.example")


def _pattern_matches(pattern: str, path: str) -> bool:
    if fnmatch(path, pattern):
        return True
    return pattern.startswith("**/") and fnmatch(path.rsplit("/", 1)[-1], pattern[3:])


def dockerignore_excludes(path: str, patterns: Iterable[str]) -> bool:
    """Docker's rule: the last pattern that matches the path (or a parent of it) decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        clean = pattern.removeprefix("!").strip("/")
        if any(_pattern_matches(clean, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_app() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    for path in (".env", ".venv", "var", ".git", "config/__pycache__/settings.cpython-311.pyc"):
        assert dockerignore_excludes(path, patterns), f".dockerignore lets {path} in"
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    readme = pyproject["project"].get("readme")
    packages = [
        pattern.rstrip("*")
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    needed = ["pyproject.toml", "manage.py", "templates", "static", *packages]
    if isinstance(readme, str):
        needed.append(readme)  # `pip install .` fails without it
    for path in needed:
        assert (ROOT / path).exists(), f"{path} is missing"
        assert not dockerignore_excludes(path, patterns), f".dockerignore leaves out {path}"
