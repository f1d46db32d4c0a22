# Two commands on a fresh machine with Python 3.11 and make:  make demo  ·  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
ISSUE  ?= issues/2022-03-laenderfokus
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint golden browser mailservers clean help

help:
	@echo "make demo    build the example issue, send it to the embedded SMTP sink, open the preview"
	@echo "make test    install what the tests need (Chromium, Dovecot, Postfix), lint, and run the whole suite"
	@echo "make bench   print the benchmark figures (start-up, build, audience, compose, send, rigs, desk files, inbox; installs the mjml CLI, and Postfix for its smtp-sink)"
	@echo "make lint    ruff, mypy and the layering contract (lint-imports, see pyproject.toml)"
	@echo "make golden  regenerate the golden files under tests/golden/ (review the diff!)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# Chromium from Debian's package; Playwright's own browser download cannot work offline.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the preview tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Dovecot and Postfix from Debian's packages for the inbound-mail rigs (tests/imap_rig.py,
# tests/postfix_rig.py); the system services stay stopped and disabled, the tests start their own.
mailservers:
	@scripts/install-mail-servers.sh

demo: $(STAMP)
	ISSUE=$(ISSUE) scripts/demo.sh

# CI runs exactly this (.ci/run): lint and types first, then the whole suite.
test: $(STAMP) browser mailservers lint
	$(BIN)/pytest -q

# npm's mjml CLI, the compiler benchmarks/build.py compares with: installed once into
# ~/.cache/newsletter-bench (NEWSLETTER_BENCH_CACHE), outside the repository; skipped without npm.
bench: $(STAMP) mailservers
	$(PY) benchmarks/mjml_cli.py
	$(PY) benchmarks/startup.py
	$(PY) benchmarks/build.py
	$(PY) benchmarks/audience.py
	$(PY) benchmarks/compose.py
	$(PY) benchmarks/send.py
	$(PY) benchmarks/rigs.py
	$(PY) benchmarks/desk_files.py
	$(PY) benchmarks/inbox.py

lint: $(STAMP)
	$(BIN)/ruff check newsletter tests benchmarks
	$(BIN)/ruff format --check newsletter tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

golden: $(STAMP)
	NEWSLETTER_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/test_golden.py

clean:
	rm -rf $(VENV) out site .pytest_cache .import_linter_cache newsletter.db*
