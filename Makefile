# The two commands of the README.
PYTHON ?= python3
# Signature verification, token checks and policy evaluation: every branch.
COVERAGE = --cov=proxy.sigv4 --cov=proxy.tokens --cov=proxy.policy \
	--cov-branch --cov-report=term --cov-fail-under=100

.PHONY: demo test test-tools

demo:
	$(PYTHON) -m pip install --quiet '.[demo]'
	$(PYTHON) -m proxy demo

test: test-tools
	$(PYTHON) -m pip install --quiet -e '.[test]'
	$(PYTHON) -m ruff check proxy tests
	$(PYTHON) -m ruff format --check proxy tests
	$(PYTHON) -m mypy
	$(PYTHON) -m pytest -ra $(COVERAGE)

test-tools:
	sh scripts/install-test-tools
