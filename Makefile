# Two set-up commands: `make demo` runs the whole job offline, `make test` runs the checks.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint unit bench clean-venv system-deps

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

test: system-deps lint unit

# Real parts the tests use, from Debian; CI runs as root on a fresh machine. Chromium drives the web page
# test (Playwright); GStreamer's RTSP server (system Python bindings) plays a camera for the camera tests.
SYSTEM_PACKAGES := chromium gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
system-deps:
	dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || (apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES))

bench: $(STAMP)
	$(VENV)/bin/person-search bench

clean-venv:
	rm -rf $(VENV)
