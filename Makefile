# Two commands do all the set-up on a fresh machine:
#   make demo   runs the main job on synthetic data
#   make test   runs ruff, the import layers (lint-imports), mypy and pytest
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export BENTOML_DO_NOT_TRACK := true
export MLFLOW_ENABLE_TELEMETRY := false
export DO_NOT_TRACK := 1
# cache bytecode: the stack imports ~3,000 modules, compiling them costs ~13 s per process
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test lint typecheck pytest clean install bench bench-100m bench-serve bench-recs bench-quality bench-segments \
	bench-service-fuzz bench-spark serve chromium notebooks

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev,notebooks,spark]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/customer-ml demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP) chromium
	$(BIN)/python -m pytest

# the report test renders report.html in Debian's Chromium (needs root or sudo to install)
chromium:
	@command -v chromium >/dev/null || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; } || \
		echo "could not install chromium: the report test will be skipped (and fail under CI)"; }

test: lint typecheck pytest

# benchmarks (not part of the tests): figures go to bench/results/*.json and the README
bench: $(STAMP)
	$(BIN)/python bench/snapshot.py --rows 1M,10M
	$(BIN)/python bench/cold.py --rows 10M
	$(BIN)/python bench/btyd.py
	$(BIN)/python bench/rich.py

bench-100m: $(STAMP)
	$(BIN)/python bench/snapshot.py --rows 100M --memory-limit 4GB --no-pandas \
		--out bench/results/snapshot_100m.json

# needs the demo's models and outputs (make demo first)
bench-serve: $(STAMP)
	$(BIN)/python bench/serve.py --config configs/default.yaml

# schemathesis over the OpenAPI spec (0 server errors) and 10,000 locust requests (0 errors)
# against a real bentoml serve; needs the demo's models and outputs (make demo first)
bench-service-fuzz: $(STAMP)
	$(BIN)/python bench/service_fuzz.py --config configs/default.yaml

# 1M customers: choose_segments (search on a sample, assign all) vs KMeans on all of them
# recommendations: every candidate and the champion on Online Retail and planted affinities
bench-recs: $(STAMP)
	$(BIN)/python bench/recs.py

# the trained champion against every simple peer on CDNOW, Online Retail, Telco and synthetic
# data (the project's own backtest, paired differences); writes docs/quality.md
bench-quality: $(STAMP)
	$(BIN)/python bench/quality.py

# the default engine vs Spark local[*], 10M transactions: features and scoring (not 100M here)
bench-spark: $(STAMP)
	$(BIN)/python bench/spark.py --rows 10M

bench-segments: $(STAMP)
	$(BIN)/python bench/segments.py --customers 1000000

# re-execute the notebooks in place (their outputs are committed for readers on GitHub)
notebooks: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter execute --inplace --timeout=900 *.ipynb

serve: $(STAMP)
	$(BIN)/customer-ml serve --config configs/default.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
