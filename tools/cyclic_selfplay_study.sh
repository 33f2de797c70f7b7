#!/bin/bash
# What methods converge to when preferences are a cycle: three response styles, style i beats style i+1 (mod 3), every
# relation equally often. A tiny GPT-2 is fine-tuned on demonstrations of all three styles (the SFT policy, also the
# base of the reward and preference models), then PPO on a Bradley–Terry reward model and Nash-MD, SPPO and DNO on a
# GPM (default recipe) train from it; each final policy's style mix is measured on 400 samples, with its worst-case
# expected win-rate against a pure style under the true cycle (the von Neumann winner, the uniform mix, scores ½;
# unclassified samples count as losing, and a second column renormalises over the styled samples).
# With SKEW=1 the demonstrations are 60% / 30% / 10% styles 0 / 1 / 2, so the SFT policy starts away from the equilibrium.
# Usage: [SKEW=1] tools/cyclic_selfplay_study.sh REINS_BINARY OUT_DIR [SEEDS...]   (writes OUT_DIR/study.tsv; ~25 s a seed)
set -euo pipefail
B=$(realpath "$1"); mkdir -p "$2"; cd "$2"; shift 2; SEEDS=("${@:-1 2 3}")
export SKEW=${SKEW:-0}
python3 - <<'PY'
import json, os, random
styles = ["abcdefg", "hijklmn", "opqrstu"]
skewed = os.environ["SKEW"] == "1"
def text(rng, s): return "".join(rng.choice(styles[s]) for _ in range(rng.randint(4, 8)))
def demo_style(i): return (0 if i % 10 < 6 else 1 if i % 10 < 9 else 2) if skewed else i % 3
def prompt(rng): return "q" + "".join(rng.choice("xyz") for _ in range(rng.randint(1, 3))) + ":"
rng = random.Random(1)
with open("sft.jsonl", "w") as f:
    for i in range(900): f.write(json.dumps({"prompt": prompt(rng), "completion": text(rng, demo_style(i))}) + "\n")
with open("pairs.jsonl", "w") as f:
    for i in range(900):
        w = i % 3; f.write(json.dumps({"prompt": prompt(rng), "chosen": text(rng, w), "rejected": text(rng, (w + 1) % 3)}) + "\n")
with open("prompts.jsonl", "w") as f:
    for i in range(200): f.write(json.dumps({"prompt": prompt(rng)}) + "\n")
PY
mix() {  # style mix of a policy's samples and its worst-case win-rate against a pure style under the cycle
  "$B" generate --model "$1" --input prompts.jsonl --output "$1.samples.jsonl" --num-return-sequences 2 --max-new-tokens 10 --seed 7 > /dev/null 2>&1
  python3 - "$1.samples.jsonl" <<'PY'
import json, sys
styles = ["abcdefg", "hijklmn", "opqrstu"]
counts = [0, 0, 0, 0]
for line in open(sys.argv[1]):
    r = json.loads(line)
    for c in (r.get("completions") or [r.get("completion", "")]):
        c = c if isinstance(c, str) else c.get("text", "")
        votes = [sum(ch in s for ch in c) for s in styles]
        best = max(range(3), key=lambda i: votes[i])
        counts[best if votes[best] > 0 and votes[best] >= 0.8 * sum(votes) else 3] += 1
n = sum(counts); p = [x / n for x in counts]
# P(style t beats s): 1 if t = s - 1 (mod 3), 0 if t = s + 1, 1/2 if equal; unclassified responses lose.
def worst(q): return min(sum(q[t] * (1 if (t + 1) % 3 == s else 0.5 if t == s else 0) for t in range(3)) for s in range(3))
styled = sum(p[:3]); q = [x / styled for x in p[:3]] if styled else [0, 0, 0]
print("\t".join(f"{x:.2f}" for x in p) + f"\t{worst(p):.2f}\t{worst(q):.2f}")
PY
}
echo -e "seed\tmethod\tstyle_0\tstyle_1\tstyle_2\tother\tworst_case_win_rate\tworst_case_among_styled" > study.tsv
for seed in "${SEEDS[@]}"; do
  s=s$seed; mkdir -p $s
  "$B" model init --arch gpt2 --vocab-size 260 --hidden 32 --layers 2 --heads 2 --max-positions 32 --seed $seed --out $s/base > /dev/null
  "$B" sft --model $s/base --train sft.jsonl --out $s/sft --overwrite-output-dir true --completion-only-loss false --learning-rate 3e-3 --num-train-epochs 6 --per-device-train-batch-size 16 --seed $seed > /dev/null 2>&1
  "$B" rm --model $s/sft --train pairs.jsonl --out $s/bt --overwrite-output-dir true --learning-rate 1e-3 --num-train-epochs 2 --per-device-train-batch-size 16 --seed $seed > /dev/null 2>&1
  "$B" rm --objective gpm --model $s/sft --train pairs.jsonl --out $s/gpm --overwrite-output-dir true --learning-rate 1e-3 --num-train-epochs 2 --per-device-train-batch-size 16 --seed $seed > /dev/null 2>&1
  common=(--train prompts.jsonl --max-prompt-length 8 --max-completion-length 10 --seed $seed --overwrite-output-dir true --learning-rate 1e-3)
  "$B" ppo --model $s/sft --reward-model $s/bt "${common[@]}" --out $s/ppo --max-steps 60 --per-device-train-batch-size 16 > /dev/null 2>&1
  "$B" nash-md --model $s/sft --preference-model $s/gpm "${common[@]}" --out $s/nash-md --max-steps 60 --per-device-train-batch-size 16 > /dev/null 2>&1
  "$B" sppo --model $s/sft --preference-model $s/gpm "${common[@]}" --out $s/sppo --beta 0.1 --iterations 3 --num-generations 4 --prompts-per-iteration 64 --num-train-epochs 2 --per-device-train-batch-size 16 > /dev/null 2>&1
  "$B" dno --model $s/sft --preference-model $s/gpm "${common[@]}" --out $s/dno --beta 0.1 --iterations 3 --num-generations 4 --prompts-per-iteration 64 --num-train-epochs 2 --per-device-train-batch-size 16 > /dev/null 2>&1
  for m in sft ppo nash-md sppo dno; do echo -e "$seed\t$m\t$(mix $s/$m)" >> study.tsv; done
done
column -t study.tsv
