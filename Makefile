# Three commands do all the set-up (see README.md):
#   make demo   build .venv, load examples/clients.jsonl into ./demo.db, print what the library knows
#   make test   build .venv with the test tools, run the whole test suite (.ci/run calls this)
#   make bench  build .venv with the benchmark peers, run every benchmark (README: Performance)

# durable-rules needs CPython 3.10-3.12: the first of these that runs one (or PYTHON=...)
PYTHONS = $(or $(PYTHON),python3.12 python3.11 python3.10 python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := demo.db
# the moment the example decisions are taken at (the story clients' data ends in May 2026)
AS_OF ?= 2026-06-01

.PHONY: demo test bench clean

demo: $(VENV)/.installed
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/clientrules --db $(DEMO_DB) import examples/clients.jsonl
	$(BIN)/clientrules --db $(DEMO_DB) clients
	@if $(BIN)/clientrules evaluate --help >/dev/null 2>&1; then \
		as_of=$$($(BIN)/clientrules evaluate --help | grep -q -- '--as-of' && echo "--as-of $(AS_OF)"); \
		echo "$(BIN)/clientrules --db $(DEMO_DB) evaluate $$as_of"; \
		$(BIN)/clientrules --db $(DEMO_DB) evaluate $$as_of; \
	fi

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

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
