"""Reference loss curves for Reins' bf16 training (`bf16: true`), from plain PyTorch.

Reins' bf16 mode computes in float32 and stores the activations each transformer block keeps for the
backward pass as bfloat16. PyTorch does the same thing with saved-tensor hooks: every floating tensor
autograd saves inside a block, other than leaves (weights, constant tables) and the block's own input,
is packed to bfloat16 by a hook and widened when the backward pass unpacks it. Which tensors autograd
saves differs from Reins' kernels (PyTorch's written-out GELU saves its intermediates, Reins' fused
one its input), so the curves agree to a tolerance, not bit for bit. The same models also train in
float32 and under torch.autocast(bfloat16), the mixed precision TRL's `bf16` means on PyTorch (GEMMs
on bf16 operands), so the tests can state how far Reins' curve lies from each.

The models are make_fixtures.py's independent GPT-2 and Llama forward passes at a size where the
activations reach Reins' packing threshold (4,096 elements); the batch is one left-padded batch of
four 64-token rows, trained for STEPS AdamW steps on itself. Each file holds:

    param.<hf name>               initial weights (F32)
    input_ids, attention_mask, position_ids, targets
    loss.fp32, loss.saved_bf16, loss.autocast_bf16     [STEPS] the loss before each step
    grad.fp32.<hf name>, grad.saved_bf16.<hf name>     the first step's gradients
    __metadata__: config, adamw (lr, betas, eps, weight_decay), min_packed (4096)

Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_bf16_fixtures.py
Output: tests/fixtures/bf16_{gpt2,llama}_train.safetensors. Deterministic; self-checks first.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

STEPS = 8
MIN_PACKED = 4096
ADAMW = {"lr": 3e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}

GPT2 = dict(mf.GPT2_CONFIG, vocab_size=128, n_embd=64, n_head=4, n_positions=64, n_ctx=64)
LLAMA = dict(mf.LLAMA_CONFIG, vocab_size=128, hidden_size=64, intermediate_size=128, num_attention_heads=4,
             num_key_value_heads=2, head_dim=16, max_position_embeddings=64)


def saved_bf16(block_input):
    """A block's scope: its saved activations packed to bfloat16, as Reins stores them."""
    def pack(t):
        if t.is_floating_point() and not t.is_leaf and t.numel() >= MIN_PACKED and t.data_ptr() != block_input.data_ptr():
            return ("bf16", t.to(torch.bfloat16))
        return ("kept", t)

    def unpack(packed):
        kind, t = packed
        return t.float() if kind == "bf16" else t
    return torch.autograd.graph.saved_tensors_hooks(pack, unpack)


def train(params, config, forward, batch, mode):
    ids, mask, pos, targets = batch
    leaves = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    opt = torch.optim.AdamW(leaves.values(), lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"],
                            weight_decay=ADAMW["weight_decay"])
    losses, first_grads = [], None
    for _ in range(STEPS):
        opt.zero_grad()
        if mode == "autocast_bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = forward(leaves, config, ids, mask, pos)
            loss = mf.loss_fn(logits.float(), targets)
        else:
            logits = forward(leaves, config, ids, mask, pos, saved_bf16 if mode == "saved_bf16" else None)
            loss = mf.loss_fn(logits, targets)
        loss.backward()
        if first_grads is None:
            first_grads = {k: v.grad.detach().clone() for k, v in leaves.items()}
        losses.append(loss.item())
        opt.step()
    return torch.tensor(losses, dtype=torch.float32), first_grads


def build(name, config, shapes, forward, seed):
    params = mf.init_params(shapes, seed)
    mf.B, mf.T, mf.N_PAD = 4, 64, 5
    batch = mf.make_batch(config["vocab_size"], seed + 1)
    curves, grads = {}, {}
    for mode in ("fp32", "saved_bf16", "autocast_bf16"):
        curves[mode], grads[mode] = train(params, config, forward, batch, mode)

    # Self-checks: every curve learns; packing changes the gradients (so something was packed) but not the first
    # loss (the forward pass is float32 either way); the packed run's gradients stay within bf16's reach of float32's.
    for mode, c in curves.items():
        assert c[-1] < c[0] - 0.05, f"{name} {mode}: the loss does not fall ({c.tolist()})"
    assert curves["saved_bf16"][0] == curves["fp32"][0], f"{name}: packing changed the forward pass"
    differs = max((grads["saved_bf16"][k] - grads["fp32"][k]).abs().max().item() for k in params)
    assert differs > 0, f"{name}: nothing was packed"
    for k in params:
        scale = grads["fp32"][k].abs().max().item()
        err = (grads["saved_bf16"][k] - grads["fp32"][k]).abs().max().item() / max(scale, 1e-12)
        assert err < 0.1, f"{name}: packed gradient of {k} off by {err:.3g} of its scale"

    ids, mask, pos, targets = batch
    tensors = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "targets": targets}
    for k, v in params.items():
        tensors["param." + k] = v
    for mode, c in curves.items():
        tensors["loss." + mode] = c
    for mode in ("fp32", "saved_bf16"):
        for k, v in grads[mode].items():
            tensors[f"grad.{mode}.{k}"] = v
    metadata = {"config": json.dumps(config), "adamw": json.dumps(ADAMW), "min_packed": str(MIN_PACKED),
                "generator": "tools/make_bf16_fixtures.py"}
    path = os.path.join(mf.OUT_DIR, f"{name}.safetensors")
    mf.write_safetensors(path, tensors, metadata)
    back, meta = mf.read_safetensors(path)
    assert meta == metadata and all(torch.equal(back[k], v) for k, v in tensors.items())
    gap = lambda a, b: (curves[a] - curves[b]).abs().max().item()  # noqa: E731
    print(f"{path}: {os.path.getsize(path)} bytes; loss {curves['fp32'][0]:.4f} -> {curves['fp32'][-1]:.4f} (fp32); "
          f"max |saved_bf16 - fp32| {gap('saved_bf16', 'fp32'):.2e}, |autocast - fp32| {gap('autocast_bf16', 'fp32'):.2e}; "
          f"self-checks passed")


def main():
    torch.set_num_threads(1)
    os.makedirs(mf.OUT_DIR, exist_ok=True)
    build("bf16_gpt2_train", GPT2, mf.gpt2_shapes(GPT2), mf.gpt2_forward, 7000)
    build("bf16_llama_train", LLAMA, mf.llama_shapes(LLAMA, qkv_bias=False), mf.llama_forward, 8000)


if __name__ == "__main__":
    main()
