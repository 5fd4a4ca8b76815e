# Two commands: `make run` serves the demo town, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Tests run in parallel, one database per worker; TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= auto
# The share of consult/ the suite must run (per cent): the figure it reaches, rounded down.
COVERAGE_FLOOR ?= 96
# Coverage measured during the run; `make test COVERAGE=` runs without it (CI's second pass).
COVERAGE ?= --cov=consult --cov-report= --cov-fail-under=$(COVERAGE_FLOOR)
PO     := $(wildcard consult/translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: run test lint bench translations extract-messages clean system-deps

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed: installing Debian's python3-venv"; \
	  apt-get install -y -q python3-venv >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q python3-venv; }; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	@touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -f -i $< -o $@

translations: $(MO)

run: $(VENV)/.installed translations
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo load --if-empty
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPY=$(BIN)/mypy bash tests/mypy-gate.sh

# chromium, Redis and node with ical.js for the tests, installed when missing.
system-deps:
	@bash tests/system-deps.sh

test: $(VENV)/.installed translations lint system-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(COVERAGE) $(PYTEST_ARGS)

# The load generator is Debian's wrk; installed here when missing (as root).
bench: $(VENV)/.installed translations
	@command -v wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
	$(BIN)/python -m benchmarks --output docs/PERFORMANCE.md $(BENCH_ARGS)

# Refresh the message catalogue from the code and templates, then merge it into each language.
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o consult/translations/messages.pot .
	$(BIN)/pybabel update -i consult/translations/messages.pot -d consult/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(MO)
