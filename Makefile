# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.stamp-install
PY := $(VENV)/bin/python

CONSTRAINTS := constraints.txt

.PHONY: demo check test test-unit test-system bench lint lock schemas clean

# Re-install when the project's dependencies or their pinned versions change. Every version
# comes from constraints.txt, so a new release of a tool cannot fail `make test` by itself.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[all,embedded,test]"
	touch $(STAMP)

# Refresh constraints.txt: the newest versions pyproject.toml allows, installed in a fresh
# environment (Python 3.11, as the image), then frozen. Run `make test` on it and commit it.
LOCK_VENV := .lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet -e ".[all,embedded,test]"
	{ sed -n '/^#/p' $(CONSTRAINTS); $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)

demo: $(STAMP)
	$(VENV)/bin/scizoo demo

# The browser tests drive Debian's chromium (never a downloaded one).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The checks run before the tests: lint, import contracts, types.
check: $(STAMP)
	$(VENV)/bin/ruff check scizoo scifish scicow scifly scanlog_api scidog scireduce scifix tests bench docs
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: check $(CHROMIUM)
	$(PY) -m pytest tests

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP)
	$(PY) bench/bench_capture.py
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_scifly.py
	$(PY) bench/bench_recorder.py
	$(PY) bench/bench_scanlog.py
	$(PY) bench/bench_live.py
	$(PY) bench/bench_scidog.py
	$(PY) bench/bench_reduce.py
	$(PY) bench/bench_scale_out.py

schemas: $(STAMP)
	$(VENV)/bin/scizoo schema export

clean:
	rm -rf $(VENV) $(LOCK_VENV) .demo-data .pytest_cache
