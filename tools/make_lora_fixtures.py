"""Reference fixtures for Reins' LoRA adapters (PEFT's layout), checked against plain PyTorch.

PEFT is not installed here, so the adapter is applied by hand, the way PEFT merges it: each
targeted weight becomes W + (alpha / r) * B @ A for nn.Linear's [out, in] layout, and
W + (alpha / r) * (B @ A).T for GPT-2's Conv1D [in, out] layout (PEFT's fan_in_fan_out).
The merged model runs through the independent forward passes of tools/make_fixtures.py, and
autograd gives the loss gradient of every A and B through the merge, which is a different
computation from the one Reins runs (Reins adds scaling * (x A^T) B^T beside the frozen layer).

Each file holds the base weights, the adapter under PEFT's own key names, one left-padded batch,
the logits, the loss and the gradients:

    param.<hf name>                      base weights (F32)
    adapter.base_model.model.<layer>.lora_A.weight   [r, in]
    adapter.base_model.model.<layer>.lora_B.weight   [out, r]
    grad.base_model.model.<layer>.lora_{A,B}.weight  d loss / d adapter weight
    input_ids, attention_mask, position_ids, targets, logits, loss
    __metadata__: config (HF config.json), lora (r, lora_alpha, target_modules, fan_in_fan_out)

Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_lora_fixtures.py
Output: tests/fixtures/lora_{gpt2,llama}_tiny.safetensors. Deterministic; self-checks first.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import (GPT2_CONFIG, LLAMA_CONFIG, OUT_DIR, check_close, gpt2_forward, gpt2_shapes,  # noqa: E402
                           init_params, llama_forward, llama_shapes, loss_fn, make_batch, read_safetensors,
                           write_safetensors)

PREFIX = "base_model.model."


def adapted_layers(shapes, targets):
    """Every weight whose layer name ends with a target, as PEFT matches target_modules."""
    return [name[:-len(".weight")] for name in shapes
            if name.endswith(".weight") and any(name[:-len(".weight")].endswith("." + t) for t in targets)]


def merged(params, adapters, layers, scaling, fan_in_fan_out):
    """The base weights with each adapter merged in, as PEFT's merge does (differentiable in A and B)."""
    p = dict(params)
    for layer in layers:
        delta = scaling * adapters[layer + ".lora_B.weight"] @ adapters[layer + ".lora_A.weight"]
        p[layer + ".weight"] = params[layer + ".weight"] + (delta.T if fan_in_fan_out else delta)
    return p


def build(name, config, shapes, forward, seed, targets, fan_in_fan_out, r=4, alpha=8.0):
    params = init_params(shapes, seed)
    batch = make_batch(config["vocab_size"], seed + 1)
    ids, mask, pos, targets_ = batch
    layers = adapted_layers(shapes, targets)
    assert layers, "no layer targeted"
    g = torch.Generator().manual_seed(seed + 7)
    adapters = {}
    for layer in layers:
        w = params[layer + ".weight"]
        fan_in, fan_out = (w.shape[0], w.shape[1]) if fan_in_fan_out else (w.shape[1], w.shape[0])
        # B is non-zero (a trained adapter), else the adapter would not show in the logits.
        adapters[layer + ".lora_A.weight"] = torch.randn(r, fan_in, generator=g) * 0.3
        adapters[layer + ".lora_B.weight"] = torch.randn(fan_out, r, generator=g) * 0.3
    scaling = alpha / r

    leaves = {k: torch.nn.Parameter(v.clone()) for k, v in adapters.items()}
    logits = forward(merged(params, leaves, layers, scaling, fan_in_fan_out), config, ids, mask, pos)
    loss = loss_fn(logits, targets_)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in leaves.items()}

    # Self-checks: the adapter changes the logits; a zero B gives the base model back; the float32 gradients agree
    # with float64 central differences along random directions.
    base_logits = forward(params, config, ids, mask, pos)
    assert (logits - base_logits).abs().max() > 1e-2, "adapter has no visible effect"
    zero_b = {k: (torch.zeros_like(v) if "lora_B" in k else v) for k, v in adapters.items()}
    check_close("zero B is the base", forward(merged(params, zero_b, layers, scaling, fan_in_fan_out), config, ids, mask, pos),
                base_logits, 0, 0)
    p64 = {k: v.double() for k, v in params.items()}
    a64 = {k: v.double() for k, v in adapters.items()}
    gen = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for _ in range(3):
            dirs = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in a64.items()}
            h = 1e-5
            lp = loss_fn(forward(merged(p64, {k: a64[k] + h * dirs[k] for k in a64}, layers, scaling, fan_in_fan_out), config, ids, mask, pos), targets_)
            lm = loss_fn(forward(merged(p64, {k: a64[k] - h * dirs[k] for k in a64}, layers, scaling, fan_in_fan_out), config, ids, mask, pos), targets_)
            fd = ((lp - lm) / (2 * h)).item()
            an = sum((grads[k].double() * dirs[k]).sum() for k in a64).item()
            if abs(fd - an) > 1e-4 * max(1.0, abs(an)):
                sys.exit(f"self-check failed: {name}: directional derivative fd={fd} autograd={an}")

    tensors = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "targets": targets_,
               "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for k, v in params.items():
        tensors["param." + k] = v
    for k, v in adapters.items():
        tensors["adapter." + PREFIX + k] = v
        tensors["grad." + PREFIX + k] = grads[k]
    lora = {"r": r, "lora_alpha": alpha, "target_modules": targets, "fan_in_fan_out": fan_in_fan_out}
    metadata = {"config": json.dumps(config), "lora": json.dumps(lora), "generator": "tools/make_lora_fixtures.py"}
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    write_safetensors(path, tensors, metadata)
    back, meta = read_safetensors(path)
    assert meta == metadata and all(torch.equal(back[k], v.detach()) for k, v in tensors.items())
    print(f"{path}: {os.path.getsize(path)} bytes, {len(layers)} adapted layers, loss {loss.item():.6f} "
          f"(base {loss_fn(base_logits, targets_).item():.6f}), self-checks passed")


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    # GPT-2: the fused attention projection (PEFT's default) and the MLP's output, both Conv1D.
    build("lora_gpt2_tiny", GPT2_CONFIG, gpt2_shapes(GPT2_CONFIG), gpt2_forward, 5000, ["c_attn", "c_proj"], True)
    # Llama: PEFT's default q_proj and v_proj (v narrower, grouped-query) and the MLP's down_proj.
    build("lora_llama_tiny", LLAMA_CONFIG, llama_shapes(LLAMA_CONFIG, qkv_bias=False), llama_forward, 6000,
          ["q_proj", "v_proj", "down_proj"], False)


if __name__ == "__main__":
    main()
