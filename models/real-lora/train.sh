#!/usr/bin/env bash
# The exact commands that trained the committed adapters of the real lab track (SmolLM2-135M-Instruct,
# LoRA rank 4 on all projections). One change per variant; everything else shared:
#   4 GRPO steps x 8 prompts x 4 completions, <= 24 new tokens, T = 0.7, beta = 0 (no reference pass),
#   no dynamic sampling, no gradient checkpointing, learning rate 5e-4 (few steps: a larger LoRA step).
# Committed: binary, ternary, rlcr. lenient, hard and window are defined the same way but were not trained
# within the CPU budget (2 shared cores, ~2.5 min per variant); run them to complete the table.
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
    window)  echo "--task chat-arithmetic --reward correctness --train-file models/real-lora/mixed-pool.jsonl --difficulty-window --difficulty-prompts 32 --difficulty-low 0.1 --difficulty-high 0.9" ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}
for v in "${@:-binary ternary rlcr lenient hard}"; do
  for name in $v; do
    out=runs/real-lora/$name
    start=$(date +%s)
    # shellcheck disable=SC2046
    $OT train grpo "${COMMON[@]}" $(variant_args "$name") --out "$out" --overwrite
    echo "{\"variant\": \"$name\", \"wall_s\": $(( $(date +%s) - start ))}" > "$out/wall.json"
    rm -rf "models/real-lora/$name" && mkdir -p "models/real-lora/$name"
    cp "$out"/final/adapter_config.json "$out"/final/adapter_model.safetensors "models/real-lora/$name/"
    cp "$out/summary.json" "$out/wall.json" "models/real-lora/$name/" 2>/dev/null || true
  done
done
