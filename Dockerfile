# syntax=docker/dockerfile:1
# One image for every process of the app: web (gunicorn, the default command), the Celery
# worker and beat, and the one-shot migrate job; docker-compose.yml runs it four ways.
# There is no Docker on the development machines: tests/test_compose.py parses this file
# and checks every name it relies on against the code.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: compiles psycopg2 against libpq and installs the project into a venv -------
FROM ${PYTHON_IMAGE} AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# The dependencies get their own layer, so that a change to the code does not recompile
# psycopg2: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY . .
RUN pip install --no-cache-dir .

# --- runtime: the venv, libpq and the source tree; no compiler ---------------------------
FROM ${PYTHON_IMAGE} AS runtime

# VAR_DIR puts STATIC_ROOT at /app/var/static and the beat schedule under /app/var/celery.
# gunicorn reads WEB_CONCURRENCY as its default number of workers; set it in .env to change.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings \
    VAR_DIR=/app/var \
    WEB_CONCURRENCY=3

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid, so that files on the named volumes keep their owner across rebuilds. The home
# directory is writable for gunicorn's control socket (~/.gunicorn/).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

# manage.py, templates/ and static/ are not Python packages: the processes run from the
# source tree. It stays owned by root, so the app cannot change its own code.
WORKDIR /app
COPY . .

# Static files and whitenoise's manifest, built once into the image. The secret exists only
# for this command (settings refuse to load without one when DEBUG is off); the real one
# comes from the environment at run time. The file-broker folders the settings create on
# import are dropped: the containers use Redis.
RUN SECRET_KEY=collectstatic-only DEBUG=0 python manage.py collectstatic --noinput \
    && rm -rf /app/var/celery \
    && mkdir -p /app/var/celery /app/var/mail \
    && chown app:app /app/var /app/var/celery /app/var/mail

USER app

EXPOSE 8000

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]
