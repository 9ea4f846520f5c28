# Two entry points: `make reproduce` (the whole notebook chain, quick profile) and
# `make test`. Both create .venv and install the package on first use, once.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export MPLBACKEND := Agg

.PHONY: setup test reproduce reproduce-smoke data pretrain benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The browser test skips itself where Debian's chromium is missing.
test: setup
	$(BIN)/python -m pytest -q

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
