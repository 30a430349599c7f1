"""Settings for the whole app, read from the environment.

One file for every environment: the defaults give the embedded demo (SQLite and a
broker that needs no server); production sets DATABASE_URL, CELERY_BROKER_URL,
SECRET_KEY and ALLOWED_HOSTS. Every variable is documented in the README.
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_int_list,
    env_int_mapping,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used with DEBUG on, on a developer's own machine.
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "audit",
    "teams",
    "casework",
    "victims",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "teams.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
# A kept-open connection is checked before reuse, so a database restart costs no request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and immediate transactions let the web server and the Celery worker share the
    # file without "database is locked" errors under concurrent writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
else:
    # PostgreSQL's JIT adds 120-150 ms to the permission-filtered list queries and saves
    # nothing on an OLTP workload like ours (measured; see DESIGN.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------
AUTH_USER_MODEL = "teams.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The guardian anonymous user would be a second identity with no audit trail.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60, minimum=60)

# --- Audit ----------------------------------------------------------------------------
# Audit events are kept at least this long; the app itself never deletes them, and
# `archive_audit` (run by an operator) moves older ones to a verified file.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 7 * 365, minimum=365)
# How long a supervisor's emergency access to a case outside their teams lasts.
EMERGENCY_ACCESS_MINUTES = env_int("EMERGENCY_ACCESS_MINUTES", 60, minimum=5, maximum=480)
# Issue 5: a duty-to-warn report nobody acknowledged escalates after this many minutes,
# and again each time the same span passes; a victim representative has this many
# days to answer a request for input before the officer may proceed without it.
DUTY_TO_WARN_ESCALATION_MINUTES = env_int(
    "DUTY_TO_WARN_ESCALATION_MINUTES", 15, minimum=1, maximum=240
)
# How often the worker looks for reports due to escalate: an escalation lands up to this
# long after its time. A minute by default; the end-to-end test shortens it.
DUTY_TO_WARN_CHECK_SECONDS = env_int("DUTY_TO_WARN_CHECK_SECONDS", 60, minimum=5, maximum=900)
VICTIM_INPUT_DAYS = env_int("VICTIM_INPUT_DAYS", 5, minimum=1, maximum=30)
# Issue 6: the victim representatives are reminded this many days before a release of
# information expires, to ask the victim whether to renew it.
RELEASE_EXPIRY_REMINDER_DAYS = env_int("RELEASE_EXPIRY_REMINDER_DAYS", 14, minimum=1, maximum=90)
# Issue 6: a victim's question (through the representative) is due this many working
# days (Monday to Friday) after it is asked; the officer is reminded once it is overdue,
# and the team's supervisors this many working days after that if it is still unanswered.
INFORMATION_REQUEST_WORKING_DAYS = env_int(
    "INFORMATION_REQUEST_WORKING_DAYS", 5, minimum=1, maximum=30
)
INFORMATION_SUPERVISOR_REMINDER_DAYS = env_int(
    "INFORMATION_SUPERVISOR_REMINDER_DAYS", 2, minimum=1, maximum=30
)
# Issue 7: review meetings and reminders. Each attendee is reminded this many minutes
# before a meeting (48 hours and 2 hours by default; a meeting may set its own).
MEETING_REMINDER_OFFSET_MINUTES = env_int_list(
    "MEETING_REMINDER_OFFSET_MINUTES", [48 * 60, 2 * 60], minimum=1, maximum=30 * 24 * 60
)
# How often the worker sends the reminders that are due: a reminder lands up to this long
# after its time. A minute by default; the end-to-end tests shorten it.
REMINDER_CHECK_SECONDS = env_int("REMINDER_CHECK_SECONDS", 60, minimum=1, maximum=900)
# A reminder sent more than this long after its time (beat or the workers were down) is
# marked late.
REMINDER_LATE_AFTER_SECONDS = env_int("REMINDER_LATE_AFTER_SECONDS", 300, minimum=1)
# How often a case is reviewed at the team's meeting, by supervision level (days).
REVIEW_CADENCE_DAYS = env_int_mapping(
    "REVIEW_CADENCE_DAYS",
    {"intensive": 30, "maximum": 30, "medium": 91, "minimum": 182},
    keys={"intensive", "maximum", "medium", "minimum"},
    minimum=7,
    maximum=731,
)
# A case overdue for review is brought to its officer, and to the team's supervisors when
# it is still overdue this many days later.
REVIEW_OVERDUE_SUPERVISOR_DAYS = env_int("REVIEW_OVERDUE_SUPERVISOR_DAYS", 7, minimum=1, maximum=60)
# An action item's owner is reminded this many days before it is due.
ACTION_DUE_REMINDER_DAYS = env_int("ACTION_DUE_REMINDER_DAYS", 2, minimum=0, maximum=30)
# Recurring meetings are generated this many days ahead.
MEETING_SERIES_HORIZON_DAYS = env_int("MEETING_SERIES_HORIZON_DAYS", 120, minimum=14, maximum=730)
# Links in e-mails (which carry no case content, only a link) start with this.
APP_BASE_URL = env_str("APP_BASE_URL", "http://localhost:8000").rstrip("/")

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Times are stored in UTC; TIME_ZONE only decides how they are shown.
USE_TZ = True
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known time zone.") from None
USE_I18N = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- E-mail ---------------------------------------------------------------------------
EMAIL_MODE = env_choice("EMAIL_MODE", "file", {"file", "smtp", "console"})
EMAIL_BACKEND = {
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}[EMAIL_MODE]
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# A hung SMTP server must not hold a web worker or a Celery task forever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "MDT casework <noreply@localhost>")

# --- Cache ----------------------------------------------------------------------------
# Shared by every process of the app (web workers, Celery worker and beat): Redis in
# production, a file cache on the embedded default. Never a per-process memory cache,
# which would make the worker's heartbeat invisible to the web server.
REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a broker that needs no server, for the embedded demo.
    _queue_dir = VAR_DIR / "celery" / "queue"
    for _folder in (_queue_dir, VAR_DIR / "celery" / "processed"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
    }
elif not CELERY_BROKER_URL.startswith(("redis://", "rediss://", "amqp://")):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must start with filesystem://, redis://, rediss:// or amqp://; "
        f"got {CELERY_BROKER_URL!r}."
    )
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Inside a container Celery would otherwise start one process per CPU of the host.
CELERY_WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 2, minimum=1, maximum=64)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "verify-audit-chain": {
        "task": "audit.tasks.verify_chain",
        "schedule": crontab(hour=2, minute=30),
    },
    "record-heartbeat": {
        "task": "config.tasks.record_heartbeat",
        "schedule": crontab(minute="*"),
    },
    "expire-grants": {
        "task": "victims.tasks.expire_grants",
        "schedule": crontab(minute="*/15"),
    },
    "remind-overdue-information-requests": {
        "task": "victims.tasks.remind_overdue",
        "schedule": crontab(minute=7),
    },
    "notify-victims": {
        "task": "victims.tasks.notify_victims",
        "schedule": crontab(minute="*"),
    },
    "remind-expiring-releases": {
        "task": "victims.tasks.remind_expiring_releases",
        "schedule": crontab(hour=7, minute=15),
    },
    "send-due-reminders": {
        "task": "teams.tasks.send_due_reminders",
        "schedule": (
            crontab(minute="*")
            if REMINDER_CHECK_SECONDS == 60
            else timedelta(seconds=REMINDER_CHECK_SECONDS)
        ),
        # A tick still queued when the next one is due adds nothing (every run sends
        # everything due): let Redis drop it instead of piling ticks up behind a long run.
        "options": {"expires": REMINDER_CHECK_SECONDS},
    },
    "plan-case-reminders": {
        "task": "casework.tasks.plan_case_reminders",
        "schedule": crontab(minute=5),
    },
    "extend-meeting-series": {
        "task": "teams.tasks.extend_meeting_series",
        "schedule": crontab(hour=1, minute=10),
    },
    "escalate-duty-to-warn": {
        "task": "casework.tasks.escalate_duty_to_warn",
        "schedule": (
            crontab(minute="*")
            if DUTY_TO_WARN_CHECK_SECONDS == 60
            else timedelta(seconds=DUTY_TO_WARN_CHECK_SECONDS)
        ),
    },
}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so that an unauthenticated API request answers 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "teams.authentication.AuditedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only: the browsable API draws forms whose choices come from unrestricted
    # querysets (every case, every user), outside the disclosure policy. Swagger UI at
    # /api/docs/ is the way to explore the API.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MDT casework API",
    "DESCRIPTION": (
        "Case management for multidisciplinary teams. Every response is limited to what the "
        "signed-in user may see under the disclosure policy; records outside it answer 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set: several fields are called `kind`, and the worksheet's
    # three interests share the impact scale.
    "ENUM_NAME_OVERRIDES": {
        "DecisionKindEnum": "casework.models.DecisionKind",
        "ImpactRatingEnum": "casework.models.ImpactRating",
        "NoteKindEnum": "casework.models.NoteKind",
        "NotificationKindEnum": "teams.models.NotificationKind",
        "VictimInputKindEnum": "victims.models.VictimInputKind",
        "OrderKindEnum": "victims.models.OrderKind",
        "DisclosureLevelEnum": "teams.disclosure.policy.DisclosureLevel",
        "CaseStatusEnum": "casework.models.CaseStatus",
        "NotificationEventEnum": "victims.models.NotificationEvent",
        # Review meetings (issue 7): an attendee's state, and what they may answer.
        "RsvpEnum": "teams.models.Rsvp",
        "RsvpAnswerEnum": "teams.meetings.ANSWER_CHOICES",
        "MeetingStatusEnum": "teams.models.MeetingStatus",
    },
}

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}),
    },
}

# --- Behind a proxy -------------------------------------------------------------------
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Load balancers probe over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
