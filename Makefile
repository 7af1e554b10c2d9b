# The platform's commands. `make run` starts everything; `make test` runs every test tier.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install run test unit demo bench soak rebuild clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3.11 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: install
	deploy/run.sh

test: install
	$(PY) -m pytest -q

unit: install
	$(PY) -m pytest -q tests/unit

demo: install
	set -a; . ./.env.local; set +a; $(PY) -m deploy.demo $(DEMO_ARGS)

bench: install
	$(PY) -m bench --wait-quiet 10 $(BENCH_ARGS)

soak: install
	$(PY) -m bench soak --minutes 10 $(SOAK_ARGS)

rebuild: install
	set -a; . ./.env.local; set +a; SOCIAL_ASSISTANCE_URL=$${SOCIAL_ASSISTANCE_URL:-http://127.0.0.1:8001} DISASTER_RELIEF_URL=$${DISASTER_RELIEF_URL:-http://127.0.0.1:8004} WELFARE_URL=$${WELFARE_URL:-http://127.0.0.1:8005} $(PY) -m services.projection rebuild

clean:
	rm -rf $(VENV) .pytest_cache
