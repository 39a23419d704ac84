# Two set-up commands: `make demo` runs the whole job offline, `make test` runs the checks.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint unit bench clean-venv browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

PORT ?= 8000

demo: $(STAMP)
	$(VENV)/bin/person-search demo --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest

test: browser lint unit

# The web page test drives Debian's chromium through Playwright; CI runs as root on a fresh machine.
browser:
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

bench: $(STAMP)
	$(VENV)/bin/person-search bench

clean-venv:
	rm -rf $(VENV)
