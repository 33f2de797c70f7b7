"""Reference fixtures for Reins' process reward models, written independently in PyTorch.

A process reward model (PRM) is a Hugging Face ...ForTokenClassification checkpoint with two labels, as TRL's
PRMTrainer trains it: GPT2ForTokenClassification (trunk "transformer.*", head "classifier.{weight,bias}") and
LlamaForTokenClassification (trunk "model.*", head "score.{weight,bias}"). For each, at toy size, this script

  * lays out two step-wise records from token-id pieces: BOS, the problem, the separator, then each step followed by
    the separator; a step's label (1 correct, 0 wrong) sits on its separator's last token, every other label -100;
    the batch is right-padded (ids 0, labels -100), as DataCollatorForTokenClassification pads;
  * runs the trunk (tools/make_fixtures.py's independent GPT-2 and Llama) and the head, the token-classification loss
    (mean cross-entropy over the labelled positions) and its backward;
  * writes the weights under their Hugging Face names, the batch, the logits [B, T, 2], the loss, every gradient and
    each labelled step's P(correct) = softmax(logits)[1].

Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_prm_fixtures.py
Output: tests/fixtures/prm_{gpt2,llama}_tiny.safetensors. It self-checks the head's gradients by float64 finite
differences before writing anything.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import (GPT2_CONFIG, LLAMA_CONFIG, OUT_DIR, check_close, gpt2_hidden, gpt2_shapes,  # noqa: E402
                           init_params, llama_hidden, llama_shapes, write_safetensors)

BOS, SEPARATOR = 1, [5, 6]
# Two records as token pieces: (problem, [steps], [labels]).
RECORDS = [
    ([10], [[20], [21, 22], [23]], [True, False, False]),
    ([13], [[26, 27], [29]], [True, True]),
]


def layout(problem, steps, labels):
    ids = [BOS] + problem + SEPARATOR
    targets = [-100] * len(ids)
    for step, label in zip(steps, labels):
        piece = step + SEPARATOR
        ids += piece
        targets += [-100] * (len(piece) - 1) + [int(label)]
    return ids, targets


def batch():
    laid = [layout(*r) for r in RECORDS]
    T = max(len(ids) for ids, _ in laid)
    input_ids = torch.zeros(len(laid), T, dtype=torch.int64)
    attention_mask = torch.zeros(len(laid), T, dtype=torch.int64)
    labels = torch.full((len(laid), T), -100, dtype=torch.int64)
    for b, (ids, targets) in enumerate(laid):
        input_ids[b, :len(ids)] = torch.tensor(ids)
        attention_mask[b, :len(ids)] = 1
        labels[b, :len(ids)] = torch.tensor(targets)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0) * attention_mask
    return input_ids, attention_mask, position_ids, labels


def token_classification_loss(logits, labels):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def build(name, config, shapes, hidden, head, seed):
    params = init_params(shapes, seed)
    g = torch.Generator().manual_seed(seed + 7)
    params[head + ".weight"] = torch.randn(2, hidden_size(config), generator=g) * 0.5
    params[head + ".bias"] = torch.randn(2, generator=g) * 0.5
    ids, mask, pos, labels = batch()

    def logits_of(p):
        h = hidden(p, config, ids, mask, pos)
        return h @ p[head + ".weight"].T + p[head + ".bias"]

    leaves = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    logits = logits_of(leaves)
    loss = token_classification_loss(logits, labels)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in leaves.items()}

    # Float64 finite differences on the head: the loss's gradient is what the C# side trains with.
    p64 = {k: v.double() for k, v in params.items()}
    for key in (head + ".weight", head + ".bias"):
        numeric = torch.zeros_like(p64[key])
        flat = numeric.view(-1)
        for i in range(flat.numel()):
            up = {k: v.clone() for k, v in p64.items()}
            down = {k: v.clone() for k, v in p64.items()}
            up[key].view(-1)[i] += 1e-6
            down[key].view(-1)[i] -= 1e-6
            flat[i] = (token_classification_loss(logits_of(up), labels) - token_classification_loss(logits_of(down), labels)) / 2e-6
        check_close(f"{name} finite differences of {key}", grads[key].double(), numeric, 1e-3, 1e-6)

    probabilities = torch.softmax(logits.detach(), dim=-1)[..., 1]
    step_scores = probabilities[labels != -100]
    tensors = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "labels": labels,
               "logits": logits.detach(), "loss": loss.detach().reshape(1), "step_scores": step_scores}
    for k in params:
        tensors["param." + k] = params[k]
        tensors["grad." + k] = grads[k]
    hf = dict(config, architectures=[config["architectures"][0].replace("LMHeadModel", "ForTokenClassification")
                                     .replace("ForCausalLM", "ForTokenClassification")],
              num_labels=2, id2label={"0": "LABEL_0", "1": "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1})
    records = [{"problem": p, "steps": s, "labels": l} for p, s, l in RECORDS]
    metadata = {"config": json.dumps(hf), "bos": json.dumps(BOS), "separator": json.dumps(SEPARATOR),
                "records": json.dumps(records), "generator": "tools/make_prm_fixtures.py"}
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    write_safetensors(path, tensors, metadata)
    print(f"{path}: loss {loss.item():.6f} over {int((labels != -100).sum())} steps, "
          f"P(correct) {[round(x, 4) for x in step_scores.tolist()]}, self-checks passed")


def hidden_size(config):
    return config.get("n_embd") or config["hidden_size"]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    build("prm_gpt2_tiny", GPT2_CONFIG, gpt2_shapes(GPT2_CONFIG), gpt2_hidden, "classifier", 5000)
    llama = dict(LLAMA_CONFIG, tie_word_embeddings=True)
    build("prm_llama_tiny", llama, llama_shapes(llama, qkv_bias=False), llama_hidden, "score", 6000)


if __name__ == "__main__":
    main()
