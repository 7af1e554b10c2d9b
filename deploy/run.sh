#!/usr/bin/env bash
# Starts the whole platform on this machine: schemas, then every process under supervisord,
# which restarts any process that dies. The processes and their ports come from the registry
# (services/registry.py, through `python -m deploy.render env`); any port can be overridden by
# its variable (SOCIAL_ASSISTANCE_PORT, RELAY_SOCIAL_ASSISTANCE_PORT, PROJECTION_PORT, GATEWAY_PORT, ...).
# The gateway verifies tokens against GATEWAY_JWKS: development keys made on first run (below).
# Reads .env.local (made on first run with a fresh CIPHER_KEY; keep it: the event store is
# encrypted with that key).
# REPLICAS=N (1..8, default 1; `make run REPLICAS=2`): N processes of every domain's Nameko service,
# reporting, the subscription service and the gateway, instance i on its port + 100*(i-1)
# (SOCIAL_ASSISTANCE_PORT_2=8101, ...). Every relay runs twice in any case (active and standby).
# The broker: a RabbitMQ virtual host of its own, named after the database (POSTGRES_DBNAME),
# so that two platforms on one broker never share queues. Unless AMQP_URI is set, run.sh creates
# it on the local broker with rabbitmqctl and writes AMQP_URI into .env.local (so that `make demo`
# and `make rebuild`, which read .env.local, use the same one). That URI is the administrator's;
# every process connects as its own user (see "each process its own broker user" below).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
ENV_FILE=${ENV_FILE:-.env.local}
case "$ENV_FILE" in /*) ;; *) ENV_FILE="./$ENV_FILE" ;; esac
if [ ! -f "$ENV_FILE" ]; then
  echo "CIPHER_KEY=$(python -m shared.keys)" > "$ENV_FILE"
  echo "POSTGRES_DBNAME=${POSTGRES_DBNAME:-civil_affairs}" >> "$ENV_FILE"
  echo "run: wrote $ENV_FILE with a new CIPHER_KEY (back it up: the event store is encrypted with it)"
fi
AMQP_URI_GIVEN=${AMQP_URI:-}
set -a; . "$ENV_FILE"; set +a
# An AMQP_URI in the caller's environment wins over the file's.
if [ -n "$AMQP_URI_GIVEN" ]; then AMQP_URI=$AMQP_URI_GIVEN; fi
: "${POSTGRES_DBNAME:=civil_affairs}"
export POSTGRES_DBNAME

# --- the broker's virtual host ---------------------------------------------------------------
if [ -z "${AMQP_URI:-}" ]; then
  VHOST_PATH=$(python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$POSTGRES_DBNAME")
  AMQP_URI="amqp://guest:guest@127.0.0.1:5672/$VHOST_PATH"
  echo "AMQP_URI=$AMQP_URI" >> "$ENV_FILE"
  echo "run: wrote AMQP_URI=$AMQP_URI to $ENV_FILE (the vhost of database $POSTGRES_DBNAME)"
fi
export AMQP_URI
# host, vhost and user of AMQP_URI (py-amqp's reading: an empty path is the default vhost "/").
read -r AMQP_HOST AMQP_VHOST AMQP_USER < <(python - "$AMQP_URI" <<'PY'
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
vhost = urllib.parse.unquote(url.path[1:]) if len(url.path) > 1 else "/"
print(url.hostname or "localhost", vhost, urllib.parse.unquote(url.username or "guest"))
PY
)
vhost_help="create it once on the broker's host:
    rabbitmqctl add_vhost '$AMQP_VHOST'
    rabbitmqctl set_permissions -p '$AMQP_VHOST' '$AMQP_USER' '.*' '.*' '.*'
(rabbitmqctl needs root or the rabbitmq user: sudo), or set AMQP_URI in $ENV_FILE to a vhost you may use"
case "$AMQP_HOST" in
  127.0.0.1|localhost|::1)
    if [ "$AMQP_VHOST" != "/" ]; then
      if ! command -v rabbitmqctl >/dev/null 2>&1; then
        echo "run: rabbitmqctl not found, so the RabbitMQ vhost '$AMQP_VHOST' cannot be created here; $vhost_help" >&2
      elif ! ctl_out=$( { rabbitmqctl -q list_vhosts name | grep -xF "$AMQP_VHOST" >/dev/null \
                            || rabbitmqctl -q add_vhost "$AMQP_VHOST"; } 2>&1 \
                        && rabbitmqctl -q set_permissions -p "$AMQP_VHOST" "$AMQP_USER" '.*' '.*' '.*' 2>&1); then
        echo "run: rabbitmqctl could not create the RabbitMQ vhost '$AMQP_VHOST' (${ctl_out%%$'\n'*}); $vhost_help" >&2
      fi
    fi ;;
esac
# Fail now, with the reason, rather than every process retrying forever.
if ! python - "$AMQP_URI" <<'PY'
import sys
from kombu import Connection
try:
    with Connection(sys.argv[1], connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1)
except Exception as error:
    print(f"run: cannot open the broker at AMQP_URI={sys.argv[1]} ({type(error).__name__}: {error})",
          file=sys.stderr)
    sys.exit(1)
PY
then
  echo "run: is RabbitMQ running and does the vhost '$AMQP_VHOST' exist? If not, $vhost_help" >&2
  exit 1
fi

# --- the gateway's development identity ------------------------------------------------------
# Unless GATEWAY_JWKS is set (in the environment or $ENV_FILE: a JWKS file, or the https URL of an
# OIDC provider's JWKS), make a development key pair and JWKS beside $ENV_FILE, once, and record
# GATEWAY_JWKS there. Tokens: python -m services.gateway.tokens issue --keys <that folder> ...
if [ -z "${GATEWAY_JWKS:-}" ]; then
  GATEWAY_KEYS="$(dirname "$ENV_FILE")/.gateway-keys"
  if [ ! -f "$GATEWAY_KEYS/jwks.json" ] || [ ! -f "$GATEWAY_KEYS/private.pem" ]; then
    python -m services.gateway.tokens keys "$GATEWAY_KEYS"
  fi
  GATEWAY_JWKS="$GATEWAY_KEYS/jwks.json"
  echo "GATEWAY_JWKS=$GATEWAY_JWKS" >> "$ENV_FILE"
  echo "run: wrote GATEWAY_JWKS=$GATEWAY_JWKS to $ENV_FILE (development keys; private.pem signs tokens)"
fi
export GATEWAY_JWKS
# --- each process its own broker user (shared/broker_users.py) --------------------------------
# AMQP_URI above is the administrator's (guest on this machine): run.sh checks the broker with
# it; no platform process uses it. Each process gets AMQP_URI_<PROCESS>: user <vhost>.<process>
# with the least permissions it needs, its password generated once into $ENV_FILE.
python -m shared.broker_users passwords "$ENV_FILE"
set -a; . "$ENV_FILE"; set +a
if [ -n "$AMQP_URI_GIVEN" ]; then AMQP_URI=$AMQP_URI_GIVEN; fi
users_help="create them on the broker's host (rabbitmqctl needs root or the rabbitmq user), with the
passwords of $ENV_FILE exported (set -a; . $ENV_FILE; set +a):
$(env $(compgen -v AMQP_PASSWORD_ | sed 's/^/-u /') python -m shared.broker_users commands "$AMQP_VHOST" 2>&1 | sed 's/^/    /')
(or: python -m shared.broker_users apply '$AMQP_VHOST' where rabbitmqctl reaches the broker)"
case "$AMQP_HOST" in
  127.0.0.1|localhost|::1)
    if ! command -v rabbitmqctl >/dev/null 2>&1; then
      echo "run: rabbitmqctl not found, so the broker users cannot be created here; $users_help" >&2
    elif ! users_out=$(python -m shared.broker_users apply "$AMQP_VHOST" 2>&1); then
      echo "run: could not create the broker users ($users_out); $users_help" >&2
    fi ;;
  *) echo "run: the broker at $AMQP_HOST is not on this machine; if its users do not exist yet, $users_help" >&2 ;;
esac
eval "$(python -m shared.broker_users env)"
# Fail now, with the reason, if a process could not log in (the users were not created).
if ! python - "$AMQP_URI_PROJECTION" <<'PY'
import sys
from kombu import Connection
try:
    with Connection(sys.argv[1], connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1)
except Exception as error:
    print(f"run: the projection's broker user cannot log in ({type(error).__name__}: {error})", file=sys.stderr)
    sys.exit(1)
PY
then
  echo "run: the broker users are missing or have other passwords; $users_help" >&2
  exit 1
fi
# No process needs the others' passwords (each gets its own AMQP_URI_<PROCESS>).
for variable in $(compgen -v AMQP_PASSWORD_); do unset "$variable"; done

# --- ports and URLs of every registered domain ----------------------------------------------
REPLICAS=${REPLICAS:-1}
case "$REPLICAS" in
  [1-8]) ;;
  *) echo "run: REPLICAS=$REPLICAS: give a whole number from 1 to 8" >&2; exit 2 ;;
esac
eval "$(python -m deploy.render env --replicas "$REPLICAS")"
export PSYCOPG_WAIT_FUNC=wait_select  # only the Nameko processes need it; harmless elsewhere
export PYTHONUNBUFFERED=1
mkdir -p .run  # supervisord socket, pid and log
# supervisord.conf is rendered from the registry: refuse a stale one rather than start a platform
# that misses a domain. With PLATFORM_EXTRA_DOMAINS (a test's own domain) or REPLICAS > 1, run a
# rendering that includes them (same socket, so `supervisorctl -c deploy/supervisord.conf` still
# reaches it).
CONF=deploy/supervisord.conf
if [ -n "${PLATFORM_EXTRA_DOMAINS:-}" ] || [ "$REPLICAS" != 1 ]; then
  CONF=.run/supervisord.conf
  python -m deploy.render supervisord --replicas "$REPLICAS" > "$CONF"
elif ! python -m deploy.render supervisord | cmp -s - "$CONF"; then
  echo "run: $CONF differs from the registry's rendering; run \`python -m deploy.render\` (and commit)" >&2
  exit 1
fi

python -m shared.setup
python -m deploy.render banner --replicas "$REPLICAS"
exec supervisord -c "$CONF"
