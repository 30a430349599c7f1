"""Settings for the Celery workers that tests/test_reminders_e2e.py kills in the middle of
a send: the app's own settings, read from the environment as always, with one change, an
e-mail backend that pauses around each message (tests/slow_mail.py). The app's settings
stay untouched; only a worker started with DJANGO_SETTINGS_MODULE=tests.e2e_settings
uses this."""

from config.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.slow_mail.SlowFileBackend"
