"""Makes the seeded checkpoints of src/test/resources/real-shape/checkpoints.json and what transformers computes
for them: reference.json and reference.safetensors beside each checkpoint's name. Runs where torch and
transformers are (the accelerator machine; float32 on its CPU), never in CI: the project keeps this generator and
its small outputs, never the weights, which RealShapeCheckpoint.java writes byte for byte the same way.

    python3 real_shape_references.py CHECKPOINTS_JSON TOKENIZER_DIR OUT_DIR [NAME ...]
"""
import hashlib
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer


def draws(config):
    """(name, shape, is_norm) in draw order: the order RealShapeCheckpoint.draws() uses."""
    h, v = config["hidden_size"], config["vocab_size"]
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    hd = config.get("head_dim") or h // heads
    qwen3 = config["model_type"] == "qwen3"
    bias = config.get("attention_bias", not qwen3)
    inter = config["intermediate_size"]
    out = [("model.embed_tokens.weight", (v, h), False)]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        out.append((p + "input_layernorm.weight", (h,), True))
        for name, rows in (("q", heads * hd), ("k", kv * hd), ("v", kv * hd)):
            out.append((p + f"self_attn.{name}_proj.weight", (rows, h), False))
            if bias:
                out.append((p + f"self_attn.{name}_proj.bias", (rows,), False))
        if qwen3:
            out.append((p + "self_attn.q_norm.weight", (hd,), True))
            out.append((p + "self_attn.k_norm.weight", (hd,), True))
        out.append((p + "self_attn.o_proj.weight", (h, heads * hd), False))
        out.append((p + "post_attention_layernorm.weight", (h,), True))
        out.append((p + "mlp.gate_proj.weight", (inter, h), False))
        out.append((p + "mlp.up_proj.weight", (inter, h), False))
        out.append((p + "mlp.down_proj.weight", (h, inter), False))
    out.append(("model.norm.weight", (h,), True))
    if not config.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (v, h), False))
    return out


def tensor_bytes(values, dtype):
    f = values.astype(np.float32)
    if dtype == "F32":
        return f.astype("<f4").tobytes()
    bits = f.view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()


def write_checkpoint(spec, folder):
    """The weights as the spec says: one file, or shards with an index. Answers {file: sha256}."""
    config, dtype, limit = spec["config"], spec["dtype"], spec.get("max_shard_bytes")
    size = 4 if dtype == "F32" else 2
    plan = draws(config)
    total = sum(int(np.prod(s)) * size for _, s, _ in plan)
    # Shards as transformers cuts them: tensors in order, a new file when the next would pass the limit.
    files, filled = [], 0
    for name, shape, _ in plan:
        nbytes = int(np.prod(shape)) * size
        if limit and filled > 0 and filled + nbytes > limit:
            files.append(files[-1] + 1)
            filled = 0
        else:
            files.append(files[-1] if files else 0)
        filled += nbytes
    shards = files[-1] + 1
    names = (["model.safetensors"] if shards == 1
             else [f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)])
    rnd = np.random.RandomState(spec["seed"])
    data = {}
    for (name, shape, norm), shard in zip(plan, files):
        g = rnd.standard_normal(shape)
        values = (1 + 0.1 * g).astype(np.float32) if norm else g.astype(np.float32) * np.float32(0.02)
        data[name] = (shard, shape, tensor_bytes(values, dtype))
    hashes = {}
    for i, file in enumerate(names):
        header, offset, body = ['{"__metadata__":{"format":"pt"}'], 0, []
        for name, (shard, shape, raw) in data.items():
            if shard != i:
                continue
            header.append(f',"{name}":{{"dtype":"{dtype}","shape":[{",".join(map(str, shape))}],'
                          f'"data_offsets":[{offset},{offset + len(raw)}]}}')
            offset += len(raw)
            body.append(raw)
        head = ("".join(header) + "}").encode()
        head += b" " * (-len(head) % 8)
        digest = hashlib.sha256()
        with open(os.path.join(folder, file), "wb") as out:
            for part in [struct.pack("<Q", len(head)), head] + body:
                out.write(part)
                digest.update(part)
        hashes[file] = digest.hexdigest()
    if shards > 1:
        index = {"metadata": {"total_size": total}, "weight_map": {n: names[s] for n, (s, _, _) in data.items()}}
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as out:
            json.dump(index, out, indent=2)
    return hashes


def references(spec, folder, out):
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ref = {"model": spec["name"], "transformers": transformers.__version__, "torch": torch.__version__,
           "encodings": [], "chats": [], "sequences": []}
    for text in spec.get("texts", []):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        ref["encodings"].append({"text": text, "ids": ids, "decoded": tok.decode(ids)})
    prompts = list(spec.get("prompts", []))
    for chat in spec.get("chats", []):
        kwargs = chat.get("kwargs", {})
        text = tok.apply_chat_template(chat["messages"], tools=chat.get("tools"), tokenize=False,
                                       add_generation_prompt=True, **kwargs)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        ref["chats"].append({"messages": chat["messages"], "tools": chat.get("tools"), "kwargs": kwargs,
                             "text": text, "ids": ids})
        if chat.get("prompt"):
            prompts.append(text)
    tensors = {}
    with torch.no_grad():
        for i, prompt in enumerate(prompts):
            ids = tok(prompt, add_special_tokens=False)["input_ids"]
            seq = torch.tensor([ids])
            last = model(seq).logits[0, -1]
            for _ in range(spec.get("greedy", 12)):  # plain argmax: no stop token, as katmesh's greedy(n)
                nxt = model(seq).logits[0, -1].argmax()
                seq = torch.cat([seq, nxt.view(1, 1)], dim=1)
            logp = torch.log_softmax(model(seq).logits[0].double(), dim=-1).float()
            chosen = logp[:-1].gather(1, seq[0, 1:].unsqueeze(1)).squeeze(1)
            ref["sequences"].append({"prompt": prompt, "prompt_len": len(ids),
                                     "greedy_new_ids": seq[0, len(ids):].tolist()})
            tensors[f"input_ids_{i}"] = torch.tensor(ids)
            tensors[f"greedy_ids_{i}"] = seq[0].clone()
            tensors[f"last_logits_{i}"] = last.float().clone()
            tensors[f"greedy_token_logprobs_{i}"] = chosen.contiguous()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
    save_file(tensors, os.path.join(out, "reference.safetensors"))


def main():
    specs, tokenizer, out = sys.argv[1], sys.argv[2], sys.argv[3]
    only = set(sys.argv[4:])
    for spec in json.load(open(specs)):
        if only and spec["name"] not in only:
            continue
        folder = os.path.join("/tmp/real-shape", spec["name"])
        os.makedirs(folder, exist_ok=True)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(tokenizer, f), folder)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(spec["config"], f, indent=1)
        hashes = write_checkpoint(spec, folder)
        print(spec["name"], hashes, flush=True)
        if spec.get("sha256") and spec["sha256"] != hashes:
            raise SystemExit(f"{spec['name']}: weights {hashes} are not the spec's {spec['sha256']}")
        references(spec, folder, os.path.join(out, spec["name"]))
        with open(os.path.join(out, spec["name"], "weights.sha256.json"), "w") as f:
            json.dump(hashes, f, indent=1)


if __name__ == "__main__":
    main()
