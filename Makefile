# The README's commands. Everything a fresh machine needs is installed by these targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
JARS := $(VENV)/.delta-jars
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL ?= INFO
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: install run sample test lint bench bench-quick clean

install: $(JARS)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Resolves the Delta jars from Maven Central into the local Ivy cache once; later runs work offline.
$(JARS): $(INSTALLED)
	$(BIN)/python -m jobs.session
	touch $@

sample: install
	$(BIN)/govlake sample

run: sample
	$(BIN)/govlake run

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check jobs flows tests
	$(BIN)/ruff format --check jobs flows tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) lake/landing lake/bronze lake/silver lake/gold lake/quarantine lake/_quality lake/_reports lake/_ops
