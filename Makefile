# `make run` opens the app, `make test` runs the whole suite offscreen; both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test bench screenshots clean

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

run: $(INSTALLED)
	$(PY) main.py

test: $(INSTALLED)
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/lint-imports --no-cache
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(INSTALLED)
	$(PY) benchmarks/run_all.py

screenshots: $(INSTALLED)
	$(PY) scripts/screenshots.py  # sets its own offscreen screen of 1600x1000
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshot_explorer.py
	QT_QPA_PLATFORM=offscreen $(PY) scripts/screenshot_step_apart.py
	$(PY) scripts/screenshot_lessons.py

clean:
	rm -rf $(VENV) build *.egg-info
