#!/usr/bin/env bash
# The exact commands that trained the committed adapters of the real lab track (SmolLM2-135M-Instruct,
# LoRA rank 4 on all projections). One change per variant; everything else shared:
#   4 GRPO steps x 8 prompts x 4 completions, <= 24 new tokens, T = 0.7, beta = 0 (no reference pass),
#   no dynamic sampling, no gradient checkpointing, learning rate 5e-4 (few steps: a larger LoRA step).
# All six are committed (about 2.5 min each on 2 CPU cores; wall times in <variant>/wall.json).
# Prompt pools (from the chat-arithmetic suite, seed 0): hard-pool.jsonl = 128 items of its ood_train split
# (three-digit sums and word problems, 10 % unanswerable; the instruct model gets about 2 % right);
# mixed-pool.jsonl = 128 train items (two-digit) + those 128 ood_train items, for the difficulty window
# (64 of them measured, 8 samples each; about a fifth land inside [0.1, 0.9], and a window must keep at
# least --prompts-per-step of them).
# Set OFFTARGET to another command to train with another install (e.g. "env PYTHONPATH=src offtarget").
# Usage: models/real-lora/train.sh [VARIANT...]   (writes runs/real-lora/<variant>, copies final/ here)
set -euo pipefail
cd "$(dirname "$0")/../.."
OT=${OFFTARGET:-.venv/bin/offtarget}
COMMON=(--model smollm2-135m-instruct --lora --lora-rank 4 --steps 4 --prompts-per-step 8 --num-generations 4
        --max-completion-length 24 --temperature 0.7 --top-p 1.0 --beta 0 --learning-rate 5e-4
        --no-dynamic-sampling --monitor-every 0 --save-steps 0 --logging-steps 1 --no-progress --seed 0
        --train-problems 256 --trl-args gradient_checkpointing=false)
variant_args() {
  case "$1" in
    binary)  echo "--task chat-arithmetic --reward correctness" ;;
    ternary) echo "--task chat-arithmetic --reward ternary" ;;
    rlcr)    echo "--task chat-arithmetic?confidence=1 --reward rlcr" ;;
    lenient) echo "--task chat-arithmetic --reward lenient_correctness" ;;
    hard)    echo "--task chat-arithmetic --reward correctness --train-file models/real-lora/hard-pool.jsonl" ;;
    window)  echo "--task chat-arithmetic --reward correctness --train-file models/real-lora/mixed-pool.jsonl --difficulty-window --difficulty-prompts 64 --difficulty-low 0.1 --difficulty-high 0.9" ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}
for v in "${@:-binary ternary rlcr lenient hard window}"; do
  for name in $v; do
    out=runs/real-lora/$name
    start=$(date +%s)
    # shellcheck disable=SC2046
    $OT train grpo "${COMMON[@]}" $(variant_args "$name") --out "$out" --overwrite
    echo "{\"variant\": \"$name\", \"wall_s\": $(( $(date +%s) - start ))}" > "$out/wall.json"
    # a window that keeps fewer prompts than --prompts-per-step leaves the trainer with no full batch (0 steps)
    if grep -q '"steps": 0,' "$out/summary.json"; then echo "$name: 0 training steps; adapter not copied" >&2; exit 1; fi
    rm -rf "models/real-lora/$name" && mkdir -p "models/real-lora/$name"
    cp "$out"/final/adapter_config.json "$out"/final/adapter_model.safetensors "models/real-lora/$name/"
    cp "$out/summary.json" "$out/wall.json" "models/real-lora/$name/" 2>/dev/null || true
  done
done
