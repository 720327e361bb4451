# The two commands a newcomer needs:  make demo  and  make test.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ALIBI_VENV  := .venv-alibi
ALIBI_BIN   := $(ALIBI_VENV)/bin
ALIBI_STAMP := $(ALIBI_VENV)/.installed-stamp

.PHONY: install demo lint chromium test test-alibi clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,embedded,evidently]'
	touch $(STAMP)

install: $(STAMP)

## Run the whole product on embedded PostgreSQL + broker with two synthetic models.
demo: install
	$(BIN)/driftwarden demo

## Quality gates: lint, format, types, import contracts.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Debian's chromium, for the headless check of `driftwarden report` (tests/monitor/test_report.py
## fails without it). Installed with apt-get when missing; sudo only when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## Quality gates, then pytest against a real PostgreSQL and a real Kafka-protocol broker
## (DRIFTWARDEN_DATABASE_URL / DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS, else found or started).
test: lint chromium
	$(BIN)/driftwarden services run -- $(BIN)/python -m pytest

## The optional Alibi Detect backend (detectors/backends/alibi.py) against our stat tests.
## Alibi Detect pins numpy<2, so it gets its own venv and its own tests (tests_alibi/).
## torch==2.13.0 is for MMDDrift's PyTorch backend: pip takes the 2.13.0 CPU build that lies
## on this kind of machine's disk (~0.9 GB installed); a torch from PyPI is a CUDA build of
## several GB. Pinned by its own lock file, constraints-alibi.txt (constraints.txt pins numpy 2).
$(ALIBI_STAMP): pyproject.toml constraints-alibi.txt
	$(PYTHON) -m venv $(ALIBI_VENV)
	$(ALIBI_BIN)/pip install --quiet --upgrade pip
	$(ALIBI_BIN)/pip install --quiet -c constraints-alibi.txt -e '.[alibi]' pytest pytest-timeout scipy torch==2.13.0
	touch $(ALIBI_STAMP)

test-alibi: $(ALIBI_STAMP)
	$(ALIBI_BIN)/python -m pytest -q -p no:cacheprovider tests_alibi

clean:
	rm -rf $(VENV) $(ALIBI_VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
