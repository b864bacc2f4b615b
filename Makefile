# One entry point for chores. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help demo test lint bench bench-smoke bench-clickhouse samples schemas docs clean browser promtool

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test,clickhouse]'
	touch $(STAMP)

demo: $(STAMP)  ## set up, ingest sample_traces/ into demo_store/, check it, write the report to out/
	rm -rf demo_store demo_bad_store out
	$(BIN)/traceana ingest sample_traces/requests.parquet sample_traces/engine_samples.parquet --store demo_store
	$(BIN)/traceana check --store demo_store
	$(BIN)/traceana ingest sample_traces/bad_rows.jsonl --store demo_bad_store
	$(BIN)/traceana quarantine --store demo_bad_store
	$(BIN)/traceana check sample_traces/vllm_otlp_spans.jsonl sample_traces/prometheus
	$(BIN)/traceana check sample_traces/arrivals_only_azure.csv
	$(BIN)/traceana cost --store demo_store --config sample_traces/traceana.toml --no-fail
	$(BIN)/traceana report --store demo_store --out out --config sample_traces/traceana.toml --no-fail
	@echo "open out/report.html (offline, self-contained); out/report.md and out/report.json beside it"

browser:  ## install Debian's chromium for the browser test (root + apt-get), if missing
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and cannot apt-get install it: the browser test will be skipped"; fi; }

promtool:  ## install Debian's prometheus (provides promtool) for the rules tests (root + apt-get), if missing
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "promtool missing and cannot apt-get install it: the rules tests fail under CI=true"; fi; }

test: $(STAMP) browser promtool  ## set up and run the whole test suite
	$(BIN)/pytest -q

lint: $(STAMP)  ## ruff lint + format check, schema drift, the import layers
	$(BIN)/ruff check traceana tests benchmarks scripts
	$(BIN)/ruff format --check traceana tests benchmarks scripts
	$(BIN)/traceana schema --check
	$(BIN)/pytest -q -p no:cacheprovider tests/test_layers.py

bench: $(STAMP)  ## benchmarks at 10M rows (by hand: takes a while)
	$(BIN)/python benchmarks/run.py --rows 10000000

bench-smoke: $(STAMP)  ## benchmarks at a small size: checks agreement, not time
	$(BIN)/python benchmarks/run.py --rows 200000 --reps 1 --smoke

bench-clickhouse: $(STAMP)  ## the report through chDB vs the embedded engine, 1M rows (by hand; --rows 1e7 for 10M)
	$(BIN)/python benchmarks/bench_clickhouse.py --rows 1000000 --reps 3

samples: $(STAMP)  ## regenerate sample_traces/ bit-identically (seeded)
	$(BIN)/python scripts/make_samples.py

schemas: $(STAMP)  ## regenerate schemas/*.json from traceana/schema.py
	$(BIN)/traceana schema --write

docs: $(STAMP)  ## regenerate docs/metrics.md (metric definitions) and the README sections from the code
	$(BIN)/python scripts/metrics_doc.py
	$(BIN)/python scripts/readme.py

clean:
	rm -rf demo_store demo_bad_store out test-artifacts .pytest_cache
