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
	set -a; . ./.env.local; set +a; $(PY) -m deploy.demo

bench: install
	$(PY) -m bench --wait-quiet 10 $(BENCH_ARGS)

soak: install
	$(PY) -m bench soak --minutes 10 $(SOAK_ARGS)

rebuild: install
	set -a; . ./.env.local; set +a; eval "$$($(PY) -m deploy.render env)"; $(PY) -m services.projection rebuild

render: install
	$(PY) -m deploy.render

clean:
	rm -rf $(VENV) .pytest_cache
