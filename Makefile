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

# Data Docs pages need their front-end packages locally (government networks are often closed).
install: $(JARS) datadocs-assets

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

# One process and one SparkSession: on two cores a second pytest worker competes with Spark for the CPU and
# builds its own copy of every shared lake (measured: 30 min in one process, 44 min on two workers).
test: install browser
	$(BIN)/python -m pytest

# Headless Chromium for the run report's browser test (Debian packages; sudo only when not root). If it cannot
# be installed the build goes on and that test says why: it fails when CI is set and is skipped elsewhere.
.PHONY: browser
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver || \
	  echo "warning: chromium could not be installed; the report's browser test will say so" >&2; }

lint: install
	$(BIN)/ruff check jobs flows tests
	$(BIN)/ruff format --check jobs flows tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) lake/landing lake/bronze lake/silver lake/gold lake/quarantine lake/_quality lake/_reports lake/_ops

# Data Docs pages load their scripts, styles and fonts from CDNs; these exact npm packages (listed by
# jobs/data_docs.py) are unpacked once so the pages work with no Internet access. Needs npm.
DATADOCS_ASSETS := .cache/datadocs-assets
.PHONY: datadocs-assets
datadocs-assets: $(INSTALLED)
	mkdir -p $(DATADOCS_ASSETS)/tarballs
	set -e; for spec in $$($(BIN)/python -m jobs.data_docs --npm-packages); do \
	  if [ ! -f "$(DATADOCS_ASSETS)/$$spec/package.json" ]; then \
	    tarball=$$(cd $(DATADOCS_ASSETS)/tarballs && npm pack --silent "$$spec" | tail -n 1); \
	    mkdir -p "$(DATADOCS_ASSETS)/$$spec"; \
	    tar -xzf "$(DATADOCS_ASSETS)/tarballs/$$tarball" -C "$(DATADOCS_ASSETS)/$$spec" --strip-components=1; \
	    rm -f "$(DATADOCS_ASSETS)/tarballs/$$tarball"; \
	  fi; \
	done
	GOVLAKE_DATADOCS_ASSETS=$(DATADOCS_ASSETS) $(BIN)/python -m jobs.data_docs --check-assets

# Validation cost on this machine, side by side: govlake's one pass, Great Expectations alone and the bare
# aggregation (benchmarks/README.md). BENCH_ROWS="1000000 5000000" adds the larger size (much longer).
BENCH_ROWS ?= 1000000
.PHONY: bench-validation
bench-validation: datadocs-assets
	nice -n 10 $(BIN)/python benchmarks/validation.py --rows $(BENCH_ROWS)

# The whole daily flow at scale, side by side with a bare Spark job and the start-up cost
# (benchmarks/README.md). `bench` runs 1M, 5M and 20M dossiers (hours on 2 cores); `bench-quick` runs the
# same code at 50k and 200k. BENCH_FLOW_ROWS="1000000" picks sizes. BENCH_NICE=0 on a machine others keep
# busy at normal priority (niced, the runs would mostly wait for them).
BENCH_FLOW_ROWS ?= 1000000 5000000 20000000
BENCH_FLOW_QUICK_ROWS ?= 50000 200000
BENCH_NICE ?= 10
bench: datadocs-assets
	nice -n $(BENCH_NICE) $(BIN)/python benchmarks/flow_scale.py --rows $(BENCH_FLOW_ROWS) --out benchmarks/results

bench-quick: datadocs-assets
	nice -n $(BENCH_NICE) $(BIN)/python benchmarks/flow_scale.py --rows $(BENCH_FLOW_QUICK_ROWS) \
	  --out benchmarks/results
