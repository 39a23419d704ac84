# Two set-up commands: `make demo` runs the whole job offline, `make test` runs the checks.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# The serving runtime as the Jetson image has it: its Python minor version (read from the one place it is
# set, docker/Dockerfile.jetson's PYTHON_VERSION), docker/requirements-serve.txt, faiss-cpu, the project
# without its dependencies (so no torch), and the test tools; `serving-test` runs the serving tests there.
JETSON_DOCKERFILE := docker/Dockerfile.jetson
SERVE_PYTHON := $(shell sed -n 's/^ARG PYTHON_VERSION=\([0-9]*\.[0-9]*\)\..*/\1/p' $(JETSON_DOCKERFILE))
FAISS_CPU_VERSION := $(shell sed -n 's/^ARG FAISS_CPU_VERSION=//p' $(JETSON_DOCKERFILE))
SERVE_TEST_TOOLS := pytest==9.2.0 pytest-timeout==2.4.0 httpx==0.28.1
SERVE_VENV ?= .venv-serve
SERVE_STAMP := $(SERVE_VENV)/.installed-stamp
# The interpreter: pyenv's (found without pyenv on PATH: `pyenv root`, $PYENV_ROOT, ~/.pyenv), else
# python3.12 on PATH; SERVE_BASE_PY=/path/to/python3.12 overrides.
uniq = $(if $1,$(firstword $1) $(call uniq,$(filter-out $(firstword $1),$1)))
PYENV_ROOTS = $(call uniq,$(shell pyenv root 2>/dev/null) $(PYENV_ROOT) $(HOME)/.pyenv)
SERVE_BASE_PY ?= $(firstword $(foreach root,$(PYENV_ROOTS),$(wildcard $(root)/versions/$(SERVE_PYTHON).*/bin/python)) \
                   $(shell command -v python$(SERVE_PYTHON) 2>/dev/null))

.PHONY: demo test lint unit serving-test print-serve-python bench clean-venv system-deps

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

test: system-deps lint unit serving-test

# Real parts the tests use, from Debian; CI runs as root on a fresh machine. Chromium drives the web page
# test (Playwright); GStreamer's RTSP server (system Python bindings) plays a camera for the camera tests;
# mosquitto is the MQTT broker the alert and Frigate tests start.
SYSTEM_PACKAGES := chromium gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad mosquitto
system-deps:
	dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || (apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES))

# Rebuilt from scratch when what it installs changes; reused otherwise.
$(SERVE_STAMP): docker/requirements-serve.txt $(JETSON_DOCKERFILE) pyproject.toml Makefile
	@test -n "$(SERVE_PYTHON)" || { echo "no ARG PYTHON_VERSION=X.Y.Z in $(JETSON_DOCKERFILE)" >&2; exit 1; }
	@test -n "$(SERVE_BASE_PY)" || { \
	  echo "serving-test needs Python $(SERVE_PYTHON), the Jetson image's ($(JETSON_DOCKERFILE)), and found" >&2; \
	  echo "none in $(addsuffix /versions/$(SERVE_PYTHON).*,$(PYENV_ROOTS)) nor python$(SERVE_PYTHON) on PATH." >&2; \
	  echo "Install it: pyenv install $(SERVE_PYTHON)  (or uv python install $(SERVE_PYTHON))," >&2; \
	  echo "or name one: make serving-test SERVE_BASE_PY=/path/to/python$(SERVE_PYTHON)" >&2; exit 1; }
	rm -rf $(SERVE_VENV)
	$(SERVE_BASE_PY) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/python -c 'import sys; v = "%d.%d" % sys.version_info[:2]; \
	  sys.exit(0 if v == "$(SERVE_PYTHON)" else f"$(SERVE_BASE_PY) is Python {v}, not $(SERVE_PYTHON)")'
	$(SERVE_VENV)/bin/python -m pip install -q -r docker/requirements-serve.txt \
	  "faiss-cpu==$(FAISS_CPU_VERSION)" $(SERVE_TEST_TOOLS)
	$(SERVE_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

# A bundle exported by the main venv (it needs torch), then the serving tests on the image's Python
# (--noconftest: tests/conftest.py builds models with torch; these tests take the bundle from PS_SERVING_BUNDLE).
serving-test: $(SERVE_STAMP) | $(PY)
	@bundle_dir="$$(mktemp -d)" && trap 'rm -rf "$$bundle_dir"' EXIT && \
	PYTHONPATH=$(CURDIR) $(PY) tests/serving_bundle.py "$$bundle_dir/bundle" && \
	PS_SERVING_BUNDLE="$$bundle_dir/bundle" PS_SERVING_PYTHON=$(SERVE_PYTHON) PYTHONPATH=$(CURDIR) \
	  $(SERVE_VENV)/bin/python -m pytest -q -p no:cacheprovider --noconftest \
	  tests/test_serving_runtime.py tests/test_lean_runtime.py tests/test_cameras_core.py tests/test_cameras_rtsp.py

# serving-test uses the main venv only to export the bundle: any existing one does, it is not reinstalled.
$(PY):
	$(MAKE) $(STAMP)

print-serve-python:
	@echo $(SERVE_PYTHON)

bench: $(STAMP)
	$(VENV)/bin/person-search bench

clean-venv:
	rm -rf $(VENV) $(SERVE_VENV)
