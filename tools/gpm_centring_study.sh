#!/bin/bash
# The README's GPM centring study: held-out accuracy on a balanced three-style preference cycle (style i beats
# style i+1 mod 3) for Bradley–Terry and GPM, with and without centring, dims 2 and 8, tau 0.1 and 1, from a random
# or an LM-pre-trained (one epoch of reins sft on the texts) base of a tiny GPT-2, seeds 1-3.
# Usage: tools/gpm_centring_study.sh REINS_BINARY OUT_DIR   (writes OUT_DIR/study.tsv; about 5 minutes on 2 vCPUs)
set -euo pipefail
B=$(realpath "$1"); mkdir -p "$2"; cd "$2"
python3 - <<'PY'
import json, random
styles = ["abcdefg", "hijklmn", "opqrstu"]
def text(rng, s): return "".join(rng.choice(styles[s]) for _ in range(rng.randint(4, 10)))
def pairs(n, seed):
    rng = random.Random(seed); out = []
    for i in range(n):
        w = i % 3; l = (w + 1) % 3
        prompt = "q" + "".join(rng.choice("xyz") for _ in range(rng.randint(1, 3))) + ":"
        out.append({"prompt": prompt, "chosen": text(rng, w), "rejected": text(rng, l), "category": f"{w}>{l}"})
    rng.shuffle(out); return out
train = pairs(600, 1)
for name, rows in [("train", train), ("eval", pairs(300, 2))]:
    with open(f"{name}.jsonl", "w") as f: f.writelines(json.dumps(p) + "\n" for p in rows)
with open("texts.jsonl", "w") as f:
    f.writelines(json.dumps({"text": p["prompt"] + p[k]}) + "\n" for p in train for k in ("chosen", "rejected"))
PY
acc() { python3 -c "import json; print(round([json.loads(l) for l in open('$1/metrics.jsonl') if 'eval_accuracy' in l][-1]['eval_accuracy'],3))"; }
rm_args=(--train train.jsonl --eval eval.jsonl --overwrite-output-dir true --learning-rate 1e-3 --num-train-epochs 3 --per-device-train-batch-size 16)
echo -e "seed\tbase\tobjective\tdim\ttau\tcenter\taccuracy" > study.tsv
for seed in 1 2 3; do
  "$B" model init --arch gpt2 --vocab-size 260 --hidden 32 --layers 2 --heads 2 --max-positions 32 --seed $seed --out s$seed/random > /dev/null
  "$B" sft --model s$seed/random --train texts.jsonl --out s$seed/sft --overwrite-output-dir true --learning-rate 3e-3 --num-train-epochs 1 --per-device-train-batch-size 16 --seed $seed > /dev/null 2>&1
  for base in random sft; do
    "$B" rm --model s$seed/$base --out s$seed/$base-bt "${rm_args[@]}" --seed $seed > /dev/null 2>&1
    echo -e "$seed\t$base\tbt\t-\t-\t-\t$(acc s$seed/$base-bt)" >> study.tsv
    for dim in 2 8; do for tau in 0.1 1; do for center in true false; do
      out=s$seed/$base-gpm-$dim-$tau-$center
      "$B" rm --objective gpm --model s$seed/$base --out $out "${rm_args[@]}" --seed $seed --value-head-dim $dim --tau $tau --center-embeddings $center > /dev/null 2>&1
      echo -e "$seed\t$base\tgpm\t$dim\t$tau\t$center\t$(acc $out)" >> study.tsv
    done; done; done
  done
done
column -t study.tsv
