#!/usr/bin/env bash
# GPU figures for the README (issue 10), in a few minutes, offline: run on a machine with CUDA torch and the
# project installed (`pip install -e ".[ray]"` next to a CUDA build of torch), from the repository root:
#   DATA_DIR=../shared/data scripts/gpu_check.sh            # writes everything under $OUT (default runs/gpu-check)
# Records: finetune bench --config bert-base (bf16 vs the seed-style loop), a 10-epoch SMILE fine-tune of a
# bert-base-sized model (target < 60 s on one H100/H200-class GPU), audit bench with a bert-base-sized
# classifier (sentences/s and % of the bf16 FLOP bound; target >= 50,000 sentences/s), a whole `audit run --suite
# eec` with its timing breakdown and production facts (issue 19), the Ray engine with one
# worker per GPU, and a 2-process DDP fine-tune when the machine has 2 GPUs. Models are randomly initialised
# bert-base configs (no hub downloads): the figures are throughput, not quality.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DATA_DIR=${DATA_DIR:-../shared/data}
OUT=${OUT:-runs/gpu-check}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
step() { echo; echo "== $*" | tee -a "$LOG"; }
run() { echo "\$ $*" >>"$LOG"; { TIMEFORMAT="(wall %R s)"; time "$@"; } 2>&1 | tee -a "$LOG"; }

step "device"
run nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
run "$PY" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'gpus', torch.cuda.device_count())"
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
[ "$NGPU" -ge 1 ] || { echo "error: no CUDA device visible to torch" | tee -a "$LOG"; exit 2; }
[ -f "$DATA_DIR/eec/Equity-Evaluation-Corpus.csv" ] || { echo "error: $DATA_DIR has no eec/ (set DATA_DIR)" | tee -a "$LOG"; exit 2; }

step "bert-base-sized random models (offline: tokenizer of the bundled MiniLM, the bert-base-uncased vocabulary)"
run "$PY" - "$OUT" <<'PYEOF'
import sys, torch
from transformers import BertConfig, BertForSequenceClassification, BertModel
from core.model import DEFAULT_BASE_MODEL, load_tokenizer
out = sys.argv[1]
tok = load_tokenizer(DEFAULT_BASE_MODEL)
torch.manual_seed(0)
BertModel(BertConfig()).save_pretrained(f"{out}/bert-base"); tok.save_pretrained(f"{out}/bert-base")
labels = ["angry", "disgust", "happy", "not-relevant", "sad", "surprise"]
clf = BertForSequenceClassification(BertConfig(num_labels=6, id2label=dict(enumerate(labels)),
                                               label2id={l: i for i, l in enumerate(labels)}))
clf.save_pretrained(f"{out}/bert-base-clf"); tok.save_pretrained(f"{out}/bert-base-clf")
print("bert-base:", sum(p.numel() for p in clf.parameters()) / 1e6, "M parameters")
PYEOF

step "finetune bench --config bert-base (bf16, length-grouped) vs seed-style loop (pad 256, batch 4, fp32)"
run "$PY" -m finetune bench --config bert-base --data smile --data-dir "$DATA_DIR" --samples 1024 --batch-size 32

step "SMILE fine-tune, 10 epochs, bert-base-sized, 1 GPU (target < 60 s)"
run "$PY" -m finetune train --data smile --data-dir "$DATA_DIR" --base-model "$OUT/bert-base" --epochs 10 \
    --patience 0 --out "$OUT/smile-1gpu" --quiet

if [ "$NGPU" -ge 2 ]; then
  step "SMILE fine-tune, 10 epochs, bert-base-sized, 2 GPUs (torchrun, nccl)"
  run "$PY" -m torch.distributed.run --standalone --nproc_per_node 2 -m finetune train --data smile \
      --data-dir "$DATA_DIR" --base-model "$OUT/bert-base" --epochs 10 --patience 0 --out "$OUT/smile-2gpu" --quiet
else
  step "DDP: skipped, $NGPU GPU (needs 2)"
fi

step "audit bench: bert-base-sized classifier on the EEC (target >= 50,000 sentences/s)"
run "$PY" -m audit bench --model "$OUT/bert-base-clf" --data-dir "$DATA_DIR"

step "audit run --suite eec: the whole audit on the GPU, where its time goes (run.timings) and production facts"
run "$PY" -m audit run --model "$OUT/bert-base-clf" --suite eec --cache-dir '' --out "$OUT/audit-eec" -q --no-fail
run "$PY" -c "import json, sys; r = json.load(open(sys.argv[1])); t = r['run']['timings']; print('timings (s):', t['phases'], 'total', t['total_seconds']); print('production:', json.dumps(r['production']))" "$OUT/audit-eec/results.json"

step "audit bench --engine ray: one worker per GPU"
run "$PY" -m audit bench --model "$OUT/bert-base-clf" --data-dir "$DATA_DIR" --engine ray --workers "$NGPU"

echo; echo "log: $LOG"
