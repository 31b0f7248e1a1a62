# Entry points for a fresh machine. `make demo` and `make test` each set up what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint models
setup:
	@bash scripts/bootstrap.sh

demo: setup
	@bash scripts/with_env.sh $(PY) -m perception_training.demo

test: setup
	@bash scripts/with_env.sh $(PY) -m ruff check .
	@bash scripts/with_env.sh $(PY) -m pytest

lint: setup
	@bash scripts/with_env.sh $(PY) -m ruff check .
