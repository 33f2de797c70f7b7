#!/usr/bin/env bash
# Peak RSS of one short real run of each method (fp32, bf16, bf16 + LoRA r 16) on a GPT-2-shaped model, to check
# `reins memory-plan` against: prints one JSON line per run. Usage: [ARCH=llama] tools/memory_plan_runs.sh REINS WORKDIR [method…]
# Shapes: offline methods 4 examples (pairs) of 64 + 64 tokens a micro-batch; online methods 8 sequences of 64 + 64.
# ARCH=llama: a Llama-shaped model of about the same size (768 wide, 12 layers, 4 key-value heads, 32,000 tokens).
set -euo pipefail
reins=$1; work=$2; shift 2
methods=${*:-sft rm dpo kto ppo grpo rloo reinforce-pp online-dpo iterative-dpo expert-iteration bon}
mkdir -p "$work"
arch=${ARCH:-gpt2}
model=$work/$arch-shape rm=$work/rm-$arch
if [ "$arch" = llama ]; then shape="--arch llama --vocab-size 32000 --hidden 768 --layers 12 --heads 12 --kv-heads 4"
else shape="--arch gpt2 --vocab-size 50257 --hidden 768 --layers 12 --heads 12"; fi
[ -f "$model/model.safetensors" ] || "$reins" model init $shape --max-positions 1024 --out "$model" >/dev/null
python3 - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]; r = random.Random(0)
# The tokenizer `model init` writes spends a token a byte: prompts of 64 tokens, responses of 60 (within 128 with the specials).
def text(n): return "".join(r.choice("abcdefghij ") for _ in range(n))
with open(f"{work}/prompts.jsonl", "w") as f:
    for _ in range(32): f.write(json.dumps({"prompt": text(64)}) + "\n")
with open(f"{work}/sft.jsonl", "w") as f:
    for _ in range(32): f.write(json.dumps({"prompt": text(64), "completion": text(60)}) + "\n")
with open(f"{work}/pairs.jsonl", "w") as f:
    for _ in range(32): f.write(json.dumps({"prompt": text(64), "chosen": text(60), "rejected": text(60)}) + "\n")
with open(f"{work}/kto.jsonl", "w") as f:
    for i in range(32): f.write(json.dumps({"prompt": text(64), "completion": text(60), "label": i % 2 == 0}) + "\n")
PY
[ -f "$rm/model.safetensors" ] || "$reins" rm --model "$model" --train "$work/pairs.jsonl" --max-steps 1 --max-length 128 --per-device-train-batch-size 4 --out "$rm" --threads 2 >/dev/null 2>&1
offline="--max-steps 2 --per-device-train-batch-size 4 --threads 2 --save-steps 1000"
online="--reward-model $rm --max-steps 2 --per-device-train-batch-size 8 --max-prompt-length 64 --max-completion-length 64 --threads 2 --save-steps 1000"
for method in $methods; do
  case $method in
    sft) args="sft --model $model --train $work/sft.jsonl --max-length 128 $offline" ;;
    rm) args="rm --model $model --train $work/pairs.jsonl --max-length 128 $offline" ;;
    dpo) args="dpo --model $model --train $work/pairs.jsonl --max-length 128 --max-prompt-length 64 $offline" ;;
    kto) args="kto --model $model --train $work/kto.jsonl --max-length 128 --max-prompt-length 64 --per-device-train-batch-size 4 --max-steps 2 --threads 2 --save-steps 1000" ;;
    ppo) args="ppo --model $model --train $work/prompts.jsonl $online" ;;
    # GRPO planned with its reference (β > 0; its default β 0 loads none).
    grpo) args="grpo --model $model --train $work/prompts.jsonl --num-generations 4 --beta 0.04 $online" ;;
    rloo|reinforce-pp) args="$method --model $model --train $work/prompts.jsonl --num-generations 4 $online" ;;
    expert-iteration) args="expert-iteration --model $model --train $work/prompts.jsonl --num-generations 4 --keep-top 1 $online" ;;
    online-dpo) args="online-dpo --model $model --train $work/prompts.jsonl $online" ;;
    iterative-dpo) args="iterative-dpo --model $model --train $work/prompts.jsonl --reward-model $rm --iterations 1 --num-generations 2 --prompts-per-iteration 8 --generation-batch-size 8 --per-device-train-batch-size 4 --max-prompt-length 64 --max-completion-length 64 --threads 2 --save-steps 1000" ;;
    bon) args="bon --model $model --input $work/prompts.jsonl --output $work/bon-out.jsonl --reward-model $rm --n 4 --batch-size 8 --max-prompt-length 64 --max-completion-length 64 --threads 2" ;;
    *) echo "unknown method $method" >&2; exit 2 ;;
  esac
  for setting in fp32 bf16 bf16-lora; do
    extra=""
    case $setting in bf16) extra="--bf16" ;; bf16-lora) extra="--bf16 --use-peft --lora-r 16 --lora-dropout 0" ;; esac
    [ "$method" = bon ] && [ "$setting" != fp32 ] && continue
    out=$work/out-$arch-$method-$setting; rm -rf "$out"
    [ "$method" = bon ] || extra="$extra --out $out"
    if /usr/bin/time -v "$reins" $args $extra > "$work/log-$arch-$method-$setting.txt" 2> "$work/err-$arch-$method-$setting.txt"; then status=ok; else status=failed; fi
    kb=$(grep "Maximum resident" "$work/err-$arch-$method-$setting.txt" | awk '{print $NF}')
    echo "{\"arch\":\"$arch\",\"method\":\"$method\",\"setting\":\"$setting\",\"status\":\"$status\",\"peak_rss_mib\":$((kb / 1024))}"
  done
done
