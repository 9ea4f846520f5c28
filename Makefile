# Two entry points: `make reproduce` (the whole notebook chain, quick profile) and
# `make test`. Both create .venv and install the package on first use, once.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export MPLBACKEND := Agg

# Every package the project runs with, at the exact version it ran with: resolved from
# pyproject.toml (dependencies and the dev extra) for CPython $(LOCK_PYTHON) on Linux x86_64.
LOCK        := requirements.lock
LOCK_PYTHON := 3.11.7
UV          ?= uv

.PHONY: setup lock test reproduce reproduce-smoke data pretrain benchmarks clean

setup: $(STAMP)

# Installs the lock as it is, then the package itself with nothing more resolved. On
# another platform or Python the lock's platform-only lines (CUDA libraries) can't apply,
# so there it only constrains: same versions for every package that platform needs.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	if $(BIN)/python -c "import platform, sys; sys.exit(not (sys.platform == 'linux' and platform.machine() == 'x86_64' and sys.version_info[:2] == tuple(map(int, '$(LOCK_PYTHON)'.split('.')[:2]))))"; then \
	  $(BIN)/python -m pip install --quiet -r $(LOCK) && \
	  $(BIN)/python -m pip install --quiet --no-deps -e . ; \
	else \
	  echo "note: $(LOCK) was resolved for CPython $(LOCK_PYTHON) on Linux x86_64; here it only constrains the versions" >&2 && \
	  $(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev]" ; \
	fi
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolves $(LOCK) after a change to pyproject.toml's dependencies. Needs uv
# (`pip install uv`) and PyPI. Pins already in $(LOCK) are kept where they still fit, so
# only what the change needs moves; `make lock LOCK_ARGS="-P NAME"` upgrades one package,
# LOCK_ARGS=--upgrade all of them. uv only reads metadata here: it downloads no wheels.
lock:
	@command -v $(UV) >/dev/null || { echo "make lock needs uv: pip install uv" >&2; exit 1; }
	$(UV) pip compile pyproject.toml --extra dev \
	  --python-version $(LOCK_PYTHON) --python-platform x86_64-manylinux_2_28 \
	  --custom-compile-command "make lock" $(LOCK_ARGS) -o $(LOCK)

# The browser test skips itself where Debian's chromium is missing. Two workers (a test
# file each at a time: a file's module fixtures, such as the smoke chain, run once).
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

reproduce: setup
	$(BIN)/python -m jndlc_helpers reproduce --profile quick

reproduce-smoke: setup
	$(BIN)/python -m jndlc_helpers reproduce --profile smoke

data: setup
	$(BIN)/python -m jndlc_helpers build-data

pretrain: setup
	$(BIN)/python -m jndlc_helpers pretrain --profile quick

benchmarks: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf runs data/smoke data/embedded
