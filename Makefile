# hashshift — the two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_RUN  := $(VENV)/.installed-run
STAMP_DEV  := $(VENV)/.installed-dev
OUT    ?= out

.PHONY: run test lint typecheck pytest audit test-under-load bench fuzz docs clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python >= 3.11) on PATH, or run: make PYTHON=python3 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(VENV)/bin/hashshift history --rows 6 --chart $(OUT)/history.png --csv $(OUT)/history.csv
	$(VENV)/bin/hashshift map --date latest --csv $(OUT)/map_latest.csv
	$(VENV)/bin/hashshift run china_2021 --out $(OUT)/china_2021
	$(VENV)/bin/hashshift backtest china-2021 --csv $(OUT)/china_2021/backtest.csv
	$(VENV)/bin/hashshift sweep ban_top15 --work $(OUT)/ban_top15/work --out $(OUT)/ban_top15 --no-store
	$(VENV)/bin/hashshift report --scenario china_2021 --sweep ban_top15 \
	    --sweep-work $(OUT)/ban_top15/work --out $(OUT)/china_2021_report.html

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check src tests scripts benchmarks

typecheck: $(STAMP_DEV)
	$(VENV)/bin/mypy src/hashshift

pytest: $(STAMP_DEV)
	$(VENV)/bin/pytest -q

audit: $(STAMP_DEV)
	$(PY) scripts/audit.py

# pytest last: its closing line is the last line of the run (.ci/run relies on it)
test: lint typecheck audit pytest

# the whole pytest suite three times while every core runs a busy loop (docs/reliability.md)
test-under-load: $(STAMP_DEV)
	$(PY) scripts/test_under_load.py --runs 3

bench: $(STAMP_DEV)
	$(PY) benchmarks/run.py

fuzz: $(STAMP_DEV)
	@$(PY) -c "import atheris" 2>/dev/null || $(PY) -m pip install --quiet -e ".[fuzz]" || echo "atheris could not be installed: its harnesses will be skipped"
	$(PY) scripts/run_fuzz.py

docs: $(STAMP_DEV)
	$(PY) scripts/gen_cli_reference.py
	$(PY) scripts/gen_api_reference.py
	$(PY) scripts/gen_validation.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
