#!/usr/bin/env bash
# Starts the whole app on one machine: migrations, demo data, the web server, and a Celery
# worker with an embedded beat on the file broker. Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
BIN=.venv/bin

mkdir -p var/mail var/celery
"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py seed_demo

# Background jobs of a script ignore Ctrl-C, so stop them explicitly on the way out.
cleanup() {
  trap - EXIT INT TERM
  echo "Stopping the Celery worker (it finishes the task in hand first)..."
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$BIN/celery" -A config worker --beat --loglevel=INFO --concurrency=2 \
  --schedule var/celery/beat-schedule >var/celery/worker.log 2>&1 &

cat <<INFO

  MDT casework is starting at http://127.0.0.1:${PORT}/
  Demo sign-ins (password: ${DEMO_PASSWORD:-demo}):
    officer, officer2    probation officers (first / second team)
    supervisor           supervisor of both teams
    advocate             victim representative on both teams
    treatment, polygraph treatment provider and polygraph examiner
    admin                system administrator (accounts and teams, no case content)
  Celery worker and beat log: var/celery/worker.log
  Press Ctrl-C to stop everything.

INFO
"$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload &
# Whichever stops first (Ctrl-C, or a crash of either) stops the other through the trap.
wait -n
