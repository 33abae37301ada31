# flcampaign: `make run` runs the bundled campaign, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: run test check report lint types format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/local
	@echo
	@$(BIN)/flcampaign status
	@echo "Report: $(CURDIR)/reports/report.md, $(CURDIR)/reports/report.pdf; dashboard: $(CURDIR)/reports/dashboard.html"

test: $(STAMP)
	$(BIN)/pytest

# the fast tier: lint, types and every test not marked slow (no simulation), a few minutes on 2 cores
check: lint types $(STAMP)
	$(BIN)/pytest -m "not slow" -q

report: $(STAMP)
	$(BIN)/snakemake --profile profiles/local report

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile flcampaign/workflow
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint -s flcampaign/workflow/Snakefile

types: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile flcampaign/workflow

clean:
	rm -rf results reports .snakemake
