# The two commands a newcomer needs:  make demo  and  make test.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo lint test clean

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

## Quality gates, then pytest against a real PostgreSQL and a real Kafka-protocol broker
## (DRIFTWARDEN_DATABASE_URL / DRIFTWARDEN_KAFKA_BOOTSTRAP_SERVERS, else found or started).
test: lint
	$(BIN)/driftwarden services run -- $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
