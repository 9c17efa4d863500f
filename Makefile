# Two set-up commands (see README): `make demo` runs the main job on the embedded defaults,
# `make test` runs the linters (`make lint`) then the whole test suite. Both create .venv and install what they need.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench servers image screenshots clean

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/secor-intake demo

servers:
	bash scripts/install-test-servers.sh

# The container image with podman (scripts/image.sh: also where no registry can be reached).
image:
	bash scripts/image.sh image

# ruff and mypy, configured in pyproject.toml and installed by its `test` extra.
lint: $(BIN)/.installed
	$(BIN)/ruff check intake triage fetchers tests
	$(BIN)/mypy

test: lint servers
	$(BIN)/python -m pytest

bench: $(BIN)/.installed servers
	$(BIN)/python -m tests.bench

# The README's workbench screenshots, taken by the browser tests with chromium.
screenshots: $(BIN)/.installed servers
	SECOR_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/test_web_browser.py -k sqlite

clean:
	rm -rf var
