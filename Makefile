# All set-up is idempotent: every target installs what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= ../shared/data
DEMO_OUT ?= runs/demo

.PHONY: install demo mitigate test bench wheel clean

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

# Bias mitigation (README "Mitigation"): the demo model (reused if present) vs the same seed trained with
# --mitigate, both audited on the same held-out (and seen) suites of finetune/mitigation.py.
MIT_OUT ?= runs/mitigate
MITIGATE ?= cda,clp
MIT_TRAIN ?= --epochs 3 --clp-weight 1 --clp-pairs 8
MIT_AUDIT = --templates $(MIT_OUT)/suites --label-map joy=happy,anger=angry,sadness=sad --no-fail -q
mitigate: install
	test -f $(DEMO_OUT)/model/metrics.json || $(BIN)/python -m finetune train --data smile --data-dir $(DATA_DIR) --out $(DEMO_OUT)/model
	test -f $(MIT_OUT)/model/metrics.json || $(BIN)/python -m finetune train --data smile --data-dir $(DATA_DIR) --out $(MIT_OUT)/model --mitigate $(MITIGATE) $(MIT_TRAIN) $$(test -f $(MIT_OUT)/model/checkpoint.pt && echo --resume)
	$(BIN)/python -m finetune.mitigation suites --out $(MIT_OUT)/suites
	$(BIN)/python -m audit run --model $(DEMO_OUT)/model --suite identity-heldout --suite names-heldout --out $(MIT_OUT)/audit-before-heldout $(MIT_AUDIT)
	$(BIN)/python -m audit run --model $(MIT_OUT)/model --suite identity-heldout --suite names-heldout --out $(MIT_OUT)/audit-after-heldout $(MIT_AUDIT)
	$(BIN)/python -m audit run --model $(DEMO_OUT)/model --suite identity-seen --suite names-seen --out $(MIT_OUT)/audit-before-seen $(MIT_AUDIT)
	$(BIN)/python -m audit run --model $(MIT_OUT)/model --suite identity-seen --suite names-seen --out $(MIT_OUT)/audit-after-seen $(MIT_AUDIT)
	-$(BIN)/python -m audit compare $(MIT_OUT)/audit-before-heldout $(MIT_OUT)/audit-after-heldout --out $(MIT_OUT)/compare-heldout
	-$(BIN)/python -m audit compare $(MIT_OUT)/audit-before-seen $(MIT_OUT)/audit-after-seen --out $(MIT_OUT)/compare-seen
	@echo "held-out terms:" && $(BIN)/python -m finetune.mitigation outcome $(DEMO_OUT)/model $(MIT_OUT)/audit-before-heldout $(MIT_OUT)/model $(MIT_OUT)/audit-after-heldout
	@echo "seen terms:" && $(BIN)/python -m finetune.mitigation outcome $(DEMO_OUT)/model $(MIT_OUT)/audit-before-seen $(MIT_OUT)/model $(MIT_OUT)/audit-after-seen

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
