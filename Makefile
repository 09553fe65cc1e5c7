# The two commands of the README.
PYTHON ?= python3

.PHONY: demo test test-tools lint

demo:
	$(PYTHON) -m pip install --quiet '.[demo]'
	$(PYTHON) -m proxy demo

test: test-tools
	$(PYTHON) -m pip install --quiet -e '.[test]'
	$(PYTHON) -m ruff check proxy tests
	$(PYTHON) -m mypy
	$(PYTHON) -m pytest -ra

test-tools:
	sh scripts/install-test-tools
