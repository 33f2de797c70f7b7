"""Reference fixtures for Reins, in the style of llm.c's test dumps.

An independent plain-PyTorch implementation of three Hugging Face causal language
models (GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM) at toy size. For each
model it runs one left-padded batch through forward, cross-entropy, backward and one
AdamW step, and writes everything the C# engine must reproduce to a safetensors file:

    param.<hf name>        initial weights (F32), named exactly as in HF checkpoints
    grad.<hf name>         d loss / d weight (tied embeddings: both uses summed)
    after_adamw.<hf name>  weights after one torch.optim.AdamW step
    input_ids, attention_mask, position_ids, targets (I64 [2,8])
    logits (F32 [2,8,64], every position), loss (F32 [1])
    __metadata__: config (HF config.json as a JSON string), adamw (JSON string), generator

Conventions that go beyond what HF itself pins down (the C# side must match these):
  * position_ids = cumsum(attention_mask) - 1, pad positions set to 0.
  * attention is allowed iff key <= query AND the key is a real token; a query whose
    keys are all masked (the leading pads of a left-padded row) attends to nothing and
    gets an all-zero attention output (HF eager would produce garbage there instead).
  * targets[b,t] = input_ids[b,t+1] where positions t and t+1 are both real, else -100.

Run from the repository root with Debian's PyTorch (no transformers/safetensors needed):
    /usr/bin/python3 tools/make_fixtures.py
Output: tests/fixtures/{gpt2,llama,qwen2}_tiny.safetensors. The run is deterministic;
it self-checks (gradcheck, float64 finite differences, padding invariance, an
independent AdamW formula, a safetensors read-back) before writing anything.
"""
import contextlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join("tests", "fixtures")
B, T, N_PAD = 2, 8, 3
ADAMW = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}

GPT2_CONFIG = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "vocab_size": 64,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "n_positions": 16,
    "n_ctx": 16,
    "n_inner": None,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
    "initializer_range": 0.02,
    "scale_attn_weights": True,
    "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False,
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
    "use_cache": True,
}

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 16,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "mlp_bias": False,
    "pretraining_tp": 1,
    "tie_word_embeddings": False,
    "initializer_range": 0.02,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
    "use_cache": True,
}

QWEN2_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 16,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "rope_scaling": None,
    "attention_dropout": 0.0,
    "use_sliding_window": False,
    "sliding_window": None,
    "max_window_layers": 2,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
    "use_cache": True,
}


# ---------------------------------------------------------------- parameters

def gpt2_shapes(c):
    d, V = c["n_embd"], c["vocab_size"]
    # HF GPT-2 uses Conv1D, whose weight is stored [in, out] (transposed vs nn.Linear).
    s = {"transformer.wte.weight": [V, d], "transformer.wpe.weight": [c["n_positions"], d]}
    for i in range(c["n_layer"]):
        h = f"transformer.h.{i}."
        s.update({
            h + "ln_1.weight": [d], h + "ln_1.bias": [d],
            h + "attn.c_attn.weight": [d, 3 * d], h + "attn.c_attn.bias": [3 * d],
            h + "attn.c_proj.weight": [d, d], h + "attn.c_proj.bias": [d],
            h + "ln_2.weight": [d], h + "ln_2.bias": [d],
            h + "mlp.c_fc.weight": [d, 4 * d], h + "mlp.c_fc.bias": [4 * d],
            h + "mlp.c_proj.weight": [4 * d, d], h + "mlp.c_proj.bias": [d],
        })
    s.update({"transformer.ln_f.weight": [d], "transformer.ln_f.bias": [d]})
    return s


def llama_shapes(c, qkv_bias):
    d, V, I = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    hd = d // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * hd
    s = {"model.embed_tokens.weight": [V, d]}
    for i in range(c["num_hidden_layers"]):
        L = f"model.layers.{i}."
        s[L + "input_layernorm.weight"] = [d]
        s[L + "self_attn.q_proj.weight"] = [d, d]
        if qkv_bias:
            s[L + "self_attn.q_proj.bias"] = [d]
        s[L + "self_attn.k_proj.weight"] = [kv, d]
        if qkv_bias:
            s[L + "self_attn.k_proj.bias"] = [kv]
        s[L + "self_attn.v_proj.weight"] = [kv, d]
        if qkv_bias:
            s[L + "self_attn.v_proj.bias"] = [kv]
        s[L + "self_attn.o_proj.weight"] = [d, d]
        s[L + "post_attention_layernorm.weight"] = [d]
        s[L + "mlp.gate_proj.weight"] = [I, d]
        s[L + "mlp.up_proj.weight"] = [I, d]
        s[L + "mlp.down_proj.weight"] = [d, I]
    s["model.norm.weight"] = [d]
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, d]
    return s


def is_norm_weight(name):
    return any(k in name for k in ("ln_1.", "ln_2.", "ln_f.", "layernorm.", "model.norm.")) \
        and name.endswith(".weight")


def init_params(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    p = {}
    for name, shape in shapes.items():
        w = torch.randn(shape, generator=g) * 0.02
        if is_norm_weight(name):
            # Near 1 but not exactly, so a kernel that ignores the scale fails the test.
            w = 1.0 + torch.randn(shape, generator=g) * 0.1
        p[name] = w
    return p


# ---------------------------------------------------------------- model pieces

def gelu_new(x):
    # Written out rather than F.gelu(approximate="tanh") so it is checked against that.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def masked_attention(q, k, v, attention_mask):
    """q, k, v: [B, H, T, hd]; attention_mask: [B, T] with 1 = real token."""
    Tq = q.shape[2]
    causal = torch.ones(Tq, Tq, dtype=torch.bool).tril()
    allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
    has_key = allowed.any(-1, keepdim=True)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed, float("-inf"))
    # Rows with no visible key would softmax to NaN; give them finite scores, then zero
    # their probabilities, so no NaN appears in forward or backward.
    scores = torch.where(has_key, scores, torch.zeros_like(scores))
    probs = scores.softmax(-1) * has_key
    return probs @ v


def gpt2_forward(p, c, ids, attention_mask, position_ids, block_scope=None):
    return gpt2_hidden(p, c, ids, attention_mask, position_ids, block_scope) @ p["transformer.wte.weight"].T


def gpt2_hidden(p, c, ids, attention_mask, position_ids, block_scope=None):
    """The final hidden states (after ln_f), which every head reads. block_scope(x), if given, is a context manager
    each block runs in, handed the block's input (tools/make_bf16_fixtures.py packs a block's saved tensors in it)."""
    d, H, eps = c["n_embd"], c["n_head"], c["layer_norm_epsilon"]
    Bn, Tn = ids.shape
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][position_ids]
    for i in range(c["n_layer"]):
        h = f"transformer.h.{i}."
        with (block_scope or no_scope)(x):
            a = F.layer_norm(x, (d,), p[h + "ln_1.weight"], p[h + "ln_1.bias"], eps)
            qkv = a @ p[h + "attn.c_attn.weight"] + p[h + "attn.c_attn.bias"]
            q, k, v = [t.reshape(Bn, Tn, H, d // H).transpose(1, 2) for t in qkv.split(d, dim=-1)]
            y = masked_attention(q, k, v, attention_mask).transpose(1, 2).reshape(Bn, Tn, d)
            x = x + (y @ p[h + "attn.c_proj.weight"] + p[h + "attn.c_proj.bias"])
            m = F.layer_norm(x, (d,), p[h + "ln_2.weight"], p[h + "ln_2.bias"], eps)
            m = gelu_new(m @ p[h + "mlp.c_fc.weight"] + p[h + "mlp.c_fc.bias"])
            x = x + (m @ p[h + "mlp.c_proj.weight"] + p[h + "mlp.c_proj.bias"])
    return F.layer_norm(x, (d,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)


def no_scope(_):
    return contextlib.nullcontext()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama3_scaled(inv_freq, rs):
    # Llama 3.1's frequency-dependent RoPE scaling: wavelengths longer than
    # original/low_freq_factor slow down by `factor`, shorter than original/high_freq_factor
    # stay, and the band between blends linearly in original/wavelength.
    wavelen = 2 * math.pi / inv_freq
    orig = rs["original_max_position_embeddings"]
    lo, hi, factor = rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"]
    out = inv_freq.clone()
    for i in range(inv_freq.numel()):
        w = wavelen[i].item()
        if w > orig / lo:
            out[i] = inv_freq[i] / factor
        elif w >= orig / hi:
            smooth = (orig / wavelen[i] - lo) / (hi - lo)
            out[i] = (1 - smooth) * inv_freq[i] / factor + smooth * inv_freq[i]
    return out


def rope_cos_sin(position_ids, hd, theta, dtype, rope_scaling=None):
    # Same op order as HF LlamaRotaryEmbedding (float32 pow, then a matmul with the
    # positions) so the float32 fixture matches HF bit-for-bit as far as possible.
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    if rope_scaling is not None:
        inv_freq = llama3_scaled(inv_freq, rope_scaling)
    freqs = (inv_freq[None, :, None] @ position_ids[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def linear(x, p, name):
    y = x @ p[name + ".weight"].T
    if name + ".bias" in p:
        y = y + p[name + ".bias"]
    return y


def llama_forward(p, c, ids, attention_mask, position_ids, block_scope=None):
    head = p["model.embed_tokens.weight"] if c["tie_word_embeddings"] else p["lm_head.weight"]
    return llama_hidden(p, c, ids, attention_mask, position_ids, block_scope) @ head.T


def llama_hidden(p, c, ids, attention_mask, position_ids, block_scope=None):
    """The final hidden states (after the last RMSNorm), which every head reads; block_scope as gpt2_hidden's."""
    d, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd, eps = d // H, c["rms_norm_eps"]
    Bn, Tn = ids.shape
    emb = p["model.embed_tokens.weight"]
    x = emb[ids]
    cos, sin = rope_cos_sin(position_ids, hd, c["rope_theta"], x.dtype, c.get("rope_scaling"))
    cos, sin = cos[:, None], sin[:, None]  # broadcast over heads
    for i in range(c["num_hidden_layers"]):
        L = f"model.layers.{i}."
        with (block_scope or no_scope)(x):
            a = rms_norm(x, p[L + "input_layernorm.weight"], eps)
            q = linear(a, p, L + "self_attn.q_proj").reshape(Bn, Tn, H, hd).transpose(1, 2)
            k = linear(a, p, L + "self_attn.k_proj").reshape(Bn, Tn, KV, hd).transpose(1, 2)
            v = linear(a, p, L + "self_attn.v_proj").reshape(Bn, Tn, KV, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # HF repeat_kv: query head h reads kv head h // (H // KV).
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            y = masked_attention(q, k, v, attention_mask).transpose(1, 2).reshape(Bn, Tn, d)
            x = x + linear(y, p, L + "self_attn.o_proj")
            m = rms_norm(x, p[L + "post_attention_layernorm.weight"], eps)
            m = F.silu(linear(m, p, L + "mlp.gate_proj")) * linear(m, p, L + "mlp.up_proj")
            x = x + linear(m, p, L + "mlp.down_proj")
    return rms_norm(x, p["model.norm.weight"], eps)


# ---------------------------------------------------------------- batch, loss, step

def make_batch(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    attention_mask = torch.ones(B, T, dtype=torch.int64)
    attention_mask[1, :N_PAD] = 0
    input_ids = torch.randint(0, vocab, (B, T), generator=g, dtype=torch.int64)
    input_ids = input_ids * attention_mask  # pad token id is 0
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0) * attention_mask
    targets = torch.full((B, T), -100, dtype=torch.int64)
    both_real = (attention_mask[:, :-1] == 1) & (attention_mask[:, 1:] == 1)
    targets[:, :-1] = torch.where(both_real, input_ids[:, 1:], targets[:, :-1])
    return input_ids, attention_mask, position_ids, targets


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100)


def adamw_reference(p, g):
    """One AdamW step from zero state, written from the paper/PyTorch docs formula."""
    lr, b1, b2, eps, wd = (ADAMW[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay"))
    p = p.double() * (1 - lr * wd)
    g = g.double()
    m_hat = (1 - b1) * g / (1 - b1)
    v_hat = (1 - b2) * g * g / (1 - b2)
    return p - lr * m_hat / (v_hat.sqrt() + eps)


# ---------------------------------------------------------------- safetensors I/O

def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.float32:
            dtype, raw = "F32", t.numpy().astype("<f4").tobytes()
        elif t.dtype == torch.int64:
            dtype, raw = "I64", t.numpy().astype("<i8").tobytes()
        else:
            raise TypeError(f"{name}: {t.dtype}")
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Pad so the data section starts 8-byte aligned (8-byte length prefix + header).
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        np_dtype = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(body[b:e], dtype=np_dtype).copy()
                                     ).reshape(info["shape"])
    assert 8 + n + max(i["data_offsets"][1] for i in header.values()) == len(data)
    return out, meta


# ---------------------------------------------------------------- self-checks

def check_close(what, a, b, rtol, atol):
    if not torch.allclose(a, b, rtol=rtol, atol=atol):
        err = (a - b).abs().max().item()
        sys.exit(f"self-check failed: {what}: max abs err {err:.3e}")


def self_check(forward, c, params, grads, logits, loss, batch, gradcheck_names, rope):
    ids, mask, pos, targets = batch
    V = logits.shape[-1]
    assert torch.isfinite(logits).all(), "non-finite logits"
    assert abs(loss.item() - math.log(V)) < 0.5, f"loss {loss.item()} far from ln(V)"
    assert all(torch.isfinite(g).all() for g in grads.values()), "non-finite gradient"
    assert all(g.abs().sum() > 0 for g in grads.values()), "a parameter got no gradient"

    # Left padding must be invisible to real tokens: row 1 alone, unpadded, positions 0..n-1.
    n = T - N_PAD
    solo = forward(params, c, ids[1:, N_PAD:], torch.ones(1, n, dtype=torch.int64),
                   torch.arange(n)[None])
    check_close("left-padding invariance", solo[0], logits[1, N_PAD:], 1e-5, 1e-5)
    if rope:
        # RoPE only sees relative positions, so a uniform shift must not change anything.
        shifted = forward(params, c, ids, mask, pos + 5)
        check_close("RoPE shift invariance", shifted, logits, 1e-4, 1e-5)

    # Float64 copy: the float32 autograd gradient must agree with the float64 one, and the
    # float64 gradient with central finite differences along random directions.
    p64 = {k: v.double().requires_grad_() for k, v in params.items()}
    loss64 = loss_fn(forward(p64, c, ids, mask, pos), targets)
    g64 = dict(zip(p64, torch.autograd.grad(loss64, list(p64.values()))))
    for k in params:
        check_close(f"float32 vs float64 grad {k}", grads[k].double(), g64[k], 1e-3, 1e-6)
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for _ in range(3):
            dirs = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in p64.items()}
            h = 1e-5
            lp = loss_fn(forward({k: p64[k] + h * dirs[k] for k in p64}, c, ids, mask, pos), targets)
            lm = loss_fn(forward({k: p64[k] - h * dirs[k] for k in p64}, c, ids, mask, pos), targets)
            fd = (lp - lm) / (2 * h)
            an = sum((g64[k] * dirs[k]).sum() for k in p64)
            if abs(fd - an) > 1e-6 * max(1.0, abs(an)):
                sys.exit(f"self-check failed: directional derivative fd={fd} autograd={an}")

    # torch.autograd.gradcheck on a few small tensors of the full float64 model.
    base = {k: v.detach() for k, v in p64.items()}

    def partial_loss(*xs):
        q = dict(base)
        q.update(zip(gradcheck_names, xs))
        return loss_fn(forward(q, c, ids, mask, pos), targets)

    xs = tuple(base[k].clone().requires_grad_() for k in gradcheck_names)
    if not torch.autograd.gradcheck(partial_loss, xs, eps=1e-6):
        sys.exit("self-check failed: gradcheck")


# ---------------------------------------------------------------- driver

def build(name, config, shapes, forward, seed, gradcheck_names, rope):
    torch.manual_seed(seed)
    params = init_params(shapes, seed)
    batch = make_batch(config["vocab_size"], seed + 1)
    ids, mask, pos, targets = batch

    leaves = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    logits = forward(leaves, config, ids, mask, pos)
    loss = loss_fn(logits, targets)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in leaves.items()}

    opt = torch.optim.AdamW(list(leaves.values()), lr=ADAMW["lr"],
                            betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"],
                            weight_decay=ADAMW["weight_decay"])
    opt.step()
    after = {k: v.detach().clone() for k, v in leaves.items()}

    self_check(forward, config, params, grads, logits.detach(), loss.detach(), batch,
               gradcheck_names, rope)
    for k in params:
        check_close(f"AdamW {k}", after[k].double(), adamw_reference(params[k], grads[k]),
                    1e-6, 1e-7)

    tensors = {"input_ids": ids, "attention_mask": mask, "position_ids": pos,
               "targets": targets, "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for k in params:
        tensors["param." + k] = params[k]
        tensors["grad." + k] = grads[k]
        tensors["after_adamw." + k] = after[k]
    metadata = {"config": json.dumps(config), "adamw": json.dumps(ADAMW),
                "generator": "tools/make_fixtures.py"}
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    write_safetensors(path, tensors, metadata)

    back, meta = read_safetensors(path)
    assert meta == metadata and set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v.detach()), k

    n_params = sum(v.numel() for v in params.values())
    n_valid = int((targets != -100).sum())
    print(f"{path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, "
          f"{n_params} params, loss {loss.item():.6f} over {n_valid} targets "
          f"(ln V = {math.log(config['vocab_size']):.6f}), self-checks passed")


def main():
    torch.set_num_threads(1)  # fixed reduction order keeps the dump reproducible
    os.makedirs(OUT_DIR, exist_ok=True)

    x = torch.linspace(-6, 6, 1001)
    check_close("gelu_new vs F.gelu(tanh)", gelu_new(x), F.gelu(x, approximate="tanh"), 1e-6, 1e-6)
    check_close("rms_norm", rms_norm(x[None], torch.ones(1), 1e-6)[0],
                x / x.pow(2).mean().add(1e-6).sqrt(), 1e-6, 1e-6)

    build("gpt2_tiny", GPT2_CONFIG, gpt2_shapes(GPT2_CONFIG), gpt2_forward, 1000,
          ["transformer.ln_f.weight", "transformer.h.1.attn.c_attn.bias",
           "transformer.h.0.mlp.c_proj.bias"], rope=False)
    build("llama_tiny", LLAMA_CONFIG, llama_shapes(LLAMA_CONFIG, qkv_bias=False), llama_forward,
          2000, ["model.norm.weight", "model.layers.0.input_layernorm.weight",
                 "model.layers.1.post_attention_layernorm.weight"], rope=True)
    # theta 100 with original context 32 puts one frequency in each llama3 band (kept, blended, slowed).
    llama3 = dict(LLAMA_CONFIG, rope_theta=100.0, max_position_embeddings=64,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
    build("llama3rope_tiny", llama3, llama_shapes(llama3, qkv_bias=False), llama_forward,
          4000, ["model.norm.weight"], rope=True)
    build("qwen2_tiny", QWEN2_CONFIG, llama_shapes(QWEN2_CONFIG, qkv_bias=True), llama_forward,
          3000, ["model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias",
                 "model.layers.1.self_attn.v_proj.bias"], rope=True)


if __name__ == "__main__":
    main()
