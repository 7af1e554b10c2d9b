#!/usr/bin/env bash
# Starts the whole platform on this machine: schemas, then every process under supervisord,
# which restarts any process that dies.
# Reads .env.local (made on first run with a fresh CIPHER_KEY; keep it: the event store is
# encrypted with that key).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
ENV_FILE=${ENV_FILE:-.env.local}
if [ ! -f "$ENV_FILE" ]; then
  echo "CIPHER_KEY=$(python -m shared.keys)" > "$ENV_FILE"
  echo "POSTGRES_DBNAME=civil_affairs" >> "$ENV_FILE"
  echo "run: wrote $ENV_FILE with a new CIPHER_KEY (back it up: the event store is encrypted with it)"
fi
set -a; . "./$ENV_FILE"; set +a
: "${SOCIAL_ASSISTANCE_PORT:=8001}" "${REPORTING_PORT:=8003}" "${RELAY_SOCIAL_ASSISTANCE_PORT:=9101}" "${PROJECTION_PORT:=9102}"
: "${DISASTER_RELIEF_PORT:=8004}" "${RELAY_DISASTER_RELIEF_PORT:=9104}"
: "${WELFARE_PORT:=8005}" "${RELAY_WELFARE_PORT:=9105}"
export SOCIAL_ASSISTANCE_PORT REPORTING_PORT RELAY_SOCIAL_ASSISTANCE_PORT PROJECTION_PORT DISASTER_RELIEF_PORT RELAY_DISASTER_RELIEF_PORT
export WELFARE_PORT RELAY_WELFARE_PORT
export SOCIAL_ASSISTANCE_URL=${SOCIAL_ASSISTANCE_URL:-http://127.0.0.1:$SOCIAL_ASSISTANCE_PORT}
export DISASTER_RELIEF_URL=${DISASTER_RELIEF_URL:-http://127.0.0.1:$DISASTER_RELIEF_PORT}
export WELFARE_URL=${WELFARE_URL:-http://127.0.0.1:$WELFARE_PORT}
export PSYCOPG_WAIT_FUNC=wait_select  # only the Nameko processes need it; harmless elsewhere
export PYTHONUNBUFFERED=1

mkdir -p .run  # supervisord socket, pid and log
python -m shared.setup
cat <<MSG
run: starting the platform (Ctrl-C stops every process)
  social_assistance   RPC over AMQP ${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/} (service social_assistance)
                      http://127.0.0.1:$SOCIAL_ASSISTANCE_PORT/metrics  /healthz  /events?after=0&limit=100
  relay               http://127.0.0.1:$RELAY_SOCIAL_ASSISTANCE_PORT/metrics  -> exchange social_assistance.events
  welfare             RPC (service welfare)  http://127.0.0.1:$WELFARE_PORT/metrics  /healthz  /events?after=0&limit=100
  relay_welfare       http://127.0.0.1:$RELAY_WELFARE_PORT/metrics  -> exchange welfare.events
  projection          http://127.0.0.1:$PROJECTION_PORT/metrics  -> PostgreSQL schema read_model
  reporting           http://127.0.0.1:$REPORTING_PORT/report  http://127.0.0.1:$REPORTING_PORT/metrics
  then, in another shell: make demo
  one process: supervisorctl -c deploy/supervisord.conf status | restart relay_social_assistance
MSG
exec supervisord -c deploy/supervisord.conf
