# All set-up is idempotent: every target installs what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= ../shared/data
DEMO_OUT ?= runs/demo

.PHONY: install demo test bench wheel clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, from the pinned CPU wheel; a bare `torch` requirement would pull a CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m finetune train --data smile --data-dir $(DATA_DIR) --out $(DEMO_OUT)/model
	$(BIN)/python -m audit run --model $(DEMO_OUT)/model --data-dir $(DATA_DIR) --out $(DEMO_OUT)/audit \
		--suite eec --suite identity --suite names --data smile \
		--label-map joy=happy,anger=angry,sadness=sad --no-fail
	@echo "HTML bias report: $(DEMO_OUT)/audit/report.html"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python .ci/help_times.py
	$(BIN)/python -m finetune bench --data smile --data-dir $(DATA_DIR)
	$(BIN)/python -m audit bench --model $(DEMO_OUT)/model --data-dir $(DATA_DIR)

# the installable package: suites, gate and report templates inside (tests/test_packaging.py installs one)
wheel: install
	$(BIN)/pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) runs .fairaudit-cache build dist
