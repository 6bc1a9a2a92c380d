# hallmesh — set-up, demo, tests. Works as root on a fresh Debian 12 machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := mosquitto mosquitto-clients prometheus postgresql socat ca-certificates \
  sane-utils libsane-dev cups-ipp-utils dbus ffmpeg chromium poppler-utils fonts-wqy-zenhei libturbojpeg0 \
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
STAMP_APT := $(VENV)/.apt-stamp
STAMP_PY := $(VENV)/.py-stamp

.PHONY: demo test lint unit deps venv bench screenshots clean help

help:
	@echo "make demo   - bring up broker, coordinator and simulated agents (Ctrl-C stops all)"
	@echo "make test   - install what is needed, lint (ruff + mypy strict), run the whole test suite"
	@echo "make lint   - ruff + mypy strict only"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make screenshots - bring up a seeded stack on 127.0.0.1 and save the page screenshots in docs/screenshots/"

deps: $(STAMP_APT)
venv: $(STAMP_PY)

$(STAMP_APT): scripts/install-apt.sh Makefile  # a package added to APT_PACKAGES is installed on the next run
	@mkdir -p $(VENV)
	bash scripts/install-apt.sh $(APT_PACKAGES)
	@touch $@

$(STAMP_PY): pyproject.toml requirements.lock $(STAMP_APT)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -c requirements.lock -e '.[dev]'
	# ipycam (an independent ONVIF camera, a test peer) asks for the GUI build of OpenCV, which would clash
	# with opencv-python-headless over the cv2 module: install it without its dependencies.
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -c requirements.lock ipycam
	@touch $@

lint: $(STAMP_PY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: $(STAMP_PY)
	@# 3 pytest-xdist workers, one test file per worker at a time (docs/operations.md); PYTEST_ARGS adds
	@# options, e.g. PYTEST_ARGS='-n 0 -k wall' for one serial run
	$(BIN)/pytest -q -n 3 --dist loadfile $(PYTEST_ARGS)

test: lint unit

demo: $(STAMP_PY)
	$(BIN)/hallmesh demo

bench: $(STAMP_PY)
	$(BIN)/python -m bench.ingest_rate
	$(BIN)/python -m bench.agent_rss
	$(BIN)/python -m bench.fleet
	$(BIN)/python -m bench.capture_latency
	$(BIN)/python -m bench.wall

screenshots: $(STAMP_PY)
	$(BIN)/python -m scripts.screenshots

clean:
	rm -rf $(VENV) .demo .mypy_cache .ruff_cache .pytest_cache
