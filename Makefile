# The README's commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: site docs-serve demo test test-clocks lint docs messages bench bench-send bench-million \
	bench-excerpts bench-returns bench-feeds bench-web bench-subscribers bench-choices bench-api clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

## make demo: install, load demo data, send the last complete week to the outbox.
demo: $(VENV)/.installed
	$(BIN)/python -m digest init --demo
	$(BIN)/python -m digest send
	$(BIN)/python -m digest preview --out var/outbox/preview.html
	@echo
	@echo "The email as readers see it: open var/outbox/preview.html in a browser."
	@echo "Each subscriber's message is an .eml file under var/outbox/<week>/."

## make test: install the test dependencies and run the suite (two processes).
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2

## make test-clocks: the suite again with the wall clock moved (time-machine, in every
## test process): a DST-change Sunday in the tests' timezone, New Year's Eve into New
## Year, a leap day. Only the calendar moves; the monotonic clock timeouts use does not.
CLOCKS ?= 2027-03-14T09:30:00 2026-12-31T23:50:00 2028-02-29T12:00:00
test-clocks: $(VENV)/.installed
	@for when in $(CLOCKS); do \
	  echo "== the suite with the wall clock at $$when UTC"; \
	  $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider --clock-at "$$when" || exit 1; \
	done

## make lint: formatting, lint rules and strict types.
lint: $(VENV)/.installed
	$(BIN)/ruff format --check digest tests benchmarks scripts
	$(BIN)/ruff check digest tests benchmarks scripts
	$(BIN)/mypy digest

## make docs: the manual's settings and secrets tables, from the declarations.
docs: $(VENV)/.installed
	$(BIN)/python scripts/settings_reference.py

## make site: the manual (docs/) as a site in site/, every link inside it checked.
site: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## make docs-serve: the manual served live at http://127.0.0.1:8000 while you edit it.
docs-serve: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

## make messages: the templates' words into digest/locale/*.po, for translators.
messages: $(VENV)/.installed
	$(BIN)/python scripts/messages.py

## make bench: the pipeline benchmark (render, inline, build, SMTP send vs. a bare loop).
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/pipeline.py

## make bench-excerpts: excerpt quality (ROUGE, drawn-whole share) and speed vs baselines.
bench-excerpts: $(VENV)/.installed
	$(BIN)/python benchmarks/excerpts.py

## make bench-returns: returned mail against its labels (dry run, proven; LF and CRLF).
bench-returns: $(VENV)/.installed
	$(BIN)/python benchmarks/returns.py

## make bench-send: delivery vs smtp-source and a bare loop (installs postfix's tools).
bench-send: $(VENV)/.installed
	$(BIN)/python benchmarks/send.py

## make bench-million: a million subscribers frozen, dry-run and sent into smtp-sink.
bench-million: $(VENV)/.installed
	$(BIN)/python benchmarks/million.py

## make bench-feeds: a feed import into 100,000 articles vs. the same into an empty store.
bench-feeds: $(VENV)/.installed
	$(BIN)/python benchmarks/feed_import.py

## make bench-web: one-click unsubscribes, digest's pages vs. a bare Starlette app.
bench-web: $(VENV)/.installed
	$(BIN)/python benchmarks/web.py

## make bench-subscribers: peak memory of import, list and export at 200k and 1M rows.
bench-subscribers: $(VENV)/.installed
	$(BIN)/python benchmarks/subscribers.py

## make bench-choices: a send's peak memory at 10, 100 and 1,000 topic choices.
bench-choices: $(VENV)/.installed
	$(BIN)/python benchmarks/choices.py
## make bench-api: the API on loopback (a 10,000-article batch import, sync pages) vs the CLI.
bench-api: $(VENV)/.installed
	$(BIN)/python benchmarks/api.py

clean:
	rm -rf $(VENV) var dist build .pytest_cache .mypy_cache .ruff_cache
