# Two commands set up a fresh machine:
#   make demo   build the venv if missing, then the lab's quick claims: tiny models, GRPO variants, audit, report
#   make test   build the venv if missing, then run the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEMO    ?= runs/demo

.PHONY: demo test test-fast lab-all bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/offtarget lab build
	$(BIN)/offtarget lab run --quick --out $(DEMO)
	@echo "open $(DEMO)/audits/main/report.html (claims: $(DEMO)/claims.md)"

lab-all: $(STAMP)
	$(BIN)/offtarget lab build
	$(BIN)/offtarget lab run --all --out runs/lab-all

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf runs .pytest_cache
