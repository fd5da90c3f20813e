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
		--suite eec --suite identity --suite names --suite dialect --suite functional --data smile \
		--label-map joy=happy,anger=angry,sadness=sad --no-fail
	@echo "HTML bias report: $(DEMO_OUT)/audit/report.html"

# Bias mitigation (README "Mitigation"): for each seed of SEEDS, an unmitigated control and a --mitigate model,
# trained with the same seed and schedule, audited on the same held-out (and seen) suites of
# finetune/mitigation.py, compared; then the per-seed table. Finished models and audits are reused.
MIT_OUT ?= runs/mitigate
SEEDS ?= 17
MIT_EPOCHS ?= 3
MITIGATE ?= cda,clp
MIT_TRAIN ?= --clp-weight 1 --clp-pairs 8
MIT_RUNS = $(foreach s,$(SEEDS),$(MIT_OUT)/seed-$(s))
MIT_FIT = $(BIN)/python -m finetune train --data smile --data-dir $(DATA_DIR) --epochs $(MIT_EPOCHS) --seed $* \
	--out $(@D) -q $$(test -f $(@D)/checkpoint.pt && echo --resume)
MIT_AUDIT = --templates $(MIT_OUT)/suites --label-map joy=happy,anger=angry,sadness=sad --no-fail -q

$(MIT_OUT)/seed-%/control/metrics.json: | install
	$(MIT_FIT)
$(MIT_OUT)/seed-%/mitigated/metrics.json: | install
	$(MIT_FIT) --mitigate $(MITIGATE) $(MIT_TRAIN)
$(MIT_OUT)/suites/names-seen.yaml: | install
	$(BIN)/python -m finetune.mitigation suites --out $(@D)
$(MIT_OUT)/%-heldout/results.json: $(MIT_OUT)/%/metrics.json $(MIT_OUT)/suites/names-seen.yaml
	$(BIN)/python -m audit run --model $(<D) --suite identity-heldout --suite names-heldout --out $(@D) $(MIT_AUDIT)
$(MIT_OUT)/%-seen/results.json: $(MIT_OUT)/%/metrics.json $(MIT_OUT)/suites/names-seen.yaml
	$(BIN)/python -m audit run --model $(<D) --suite identity-seen --suite names-seen --out $(@D) $(MIT_AUDIT)

# the models are named here too, so that make never deletes them as intermediate files
mitigate: install $(foreach r,$(MIT_RUNS),$(foreach m,control mitigated,$(r)/$(m)/metrics.json $(r)/$(m)-heldout/results.json \
		$(r)/$(m)-seen/results.json))
	@for r in $(MIT_RUNS); do for t in heldout seen; do \
		$(BIN)/python -m audit compare $$r/control-$$t $$r/mitigated-$$t --out $$r/compare-$$t > /dev/null; \
		echo "$$r, $$t terms (before: control, after: --mitigate $(MITIGATE)):"; \
		$(BIN)/python -m finetune.mitigation outcome $$r/control $$r/control-$$t $$r/mitigated $$r/mitigated-$$t || exit 2; \
	done; done
	$(BIN)/python -m finetune.mitigation seeds $(MIT_RUNS)

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python .ci/help_times.py
	$(BIN)/python -m finetune bench --data smile --data-dir $(DATA_DIR)
	$(BIN)/python -m audit bench --model $(DEMO_OUT)/model --data-dir $(DATA_DIR)
	$(BIN)/python scripts/perf_bench.py --model $(DEMO_OUT)/model --data-dir $(DATA_DIR) --runs 3

# the installable package: suites, gate and report templates inside (tests/test_packaging.py installs one)
wheel: install
	$(BIN)/pip wheel --no-deps -w dist .

clean:
	rm -rf $(VENV) runs .fairaudit-cache build dist
