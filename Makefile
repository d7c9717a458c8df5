# Three commands do all the set-up (see README.md):
#   make demo   build .venv, load examples/clients.jsonl into ./demo.db, decide for each client, with advice
#   make test   build .venv with the test tools, type-check (mypy), build the docs site strictly, run the whole test suite (.ci/run calls this)
#   make bench  build .venv with the benchmark peers, run every benchmark (docs/performance.md)

# durable-rules needs CPython 3.10-3.12: the first of these that runs one (or PYTHON=...)
PYTHONS = $(or $(PYTHON),python3.12 python3.11 python3.10 python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := demo.db
AXE_CORE := tests/js/node_modules/axe-core/axe.min.js
# the moment the example decisions are taken at (the story clients' data ends in May 2026)
AS_OF ?= 2026-06-01

.PHONY: demo test bench clean

demo: $(VENV)/.installed
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/clientrules --db $(DEMO_DB) import examples/clients.jsonl
	$(BIN)/clientrules --db $(DEMO_DB) clients
	$(BIN)/clientrules --db $(DEMO_DB) evaluate --as-of $(AS_OF)
	@echo
	@echo "What to do about each client (the advice of the rules that fired):"
	@$(BIN)/clientrules --db $(DEMO_DB) evaluate --as-of $(AS_OF) --json | $(BIN)/python examples/advice.py
	@echo
	@echo "What to try next (README.md has a tour for each kind of user):"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) explain acme-late --as-of $(AS_OF)"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) explain wayne-first-late --as-of $(AS_OF) --why-not chronic-late-payer"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) facts initech-scope --as-of $(AS_OF)"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) next keystone-key --as-of $(AS_OF)"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) history cyberdyne-left"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) survey invite cyberdyne-left"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) rules show"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) owner set-password"
	@echo "  $(BIN)/clientrules --db $(DEMO_DB) serve    # then open http://127.0.0.1:8080/owner/"

test: $(VENV)/.installed-test $(AXE_CORE)
	$(BIN)/mypy
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site
	# compiled once, as an installed package's are: the commands, servers and engine processes the tests start
	# would otherwise compile every module at each start where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q clientrules survey_app
	$(BIN)/python -m pytest -q -n auto --dist worksteal

# axe-core for the browser tests' accessibility checks, from tests/js's lock file (where npm is; else those tests say so)
$(AXE_CORE): tests/js/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix tests/js --no-audit --no-fund; \
	else \
		echo "note: npm is not installed: the browser tests' accessibility checks will be skipped (apt-get install npm)"; \
	fi

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

$(BIN)/python:
	@for candidate in $(PYTHONS); do \
		if $$candidate -c 'import sys; assert (3, 10) <= sys.version_info < (3, 13)' >/dev/null 2>&1; then \
			python=$$candidate; break; \
		fi; \
	done; \
	if [ -z "$$python" ]; then \
		echo "error: clientrules needs Python 3.10-3.12 (tried: $(PYTHONS)); name one with PYTHON=..." >&2; exit 1; \
	fi; \
	echo "$$python -m venv $(VENV)"; \
	$$python -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-bench

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[bench]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
