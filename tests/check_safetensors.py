"""check_safetensors.py FILE.safetensors CASES.txt — reimplements the exported velocity field in numpy from
the safetensors file alone (tensor names and metadata as documented in include/rldt/export.h) and checks it
against rldt's outputs. CASES.txt: one line per case, "t x... | obs... | v..." (floats). Exits non-zero on
any mismatch. Uses /usr/bin/python3 with numpy; parses the safetensors header itself (the format is an
8-byte little-endian length, a JSON header and raw little-endian data)."""
import json
import struct
import sys

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", name
        b, end = e["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + b:base + end], dtype="<f4").reshape(e["shape"])
    return tensors, meta


ACT = {
    "relu": lambda x: np.maximum(x, 0),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
}


def linear(T, name, x):
    return x @ T[name + ".weight"].T + T[name + ".bias"]


def layernorm(T, name, x):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * T[name + ".weight"] + T[name + ".bias"]


def velocity(T, cfg, t, x, obs):
    pol = cfg["policy"]
    td = pol["time_dim"]
    half = td // 2
    freqs = np.exp(-np.log(10000.0) * np.arange(half) / (half - 1))
    feats = np.concatenate([np.sin(t * freqs), np.cos(t * freqs)])
    temb = linear(T, "time_mlp.linear1", ACT["mish"](linear(T, "time_mlp.linear0", feats)))
    obs_n = (obs - T["normalizer.obs_mean"]) / T["normalizer.obs_std"]
    act = ACT[pol["activation"]]
    pre = (lambda h, i: layernorm(T, "body.norm%d" % i, h)) if pol["layernorm"] else (lambda h, i: h)
    h = linear(T, "body.linear0", np.concatenate([x, temb, obs_n]))
    for b in range(pol["blocks"]):
        u = linear(T, "body.linear%d" % (1 + 2 * b), act(pre(h, 2 * b)))
        u = linear(T, "body.linear%d" % (2 + 2 * b), act(pre(u, 2 * b + 1)))
        h = h + u
    return linear(T, "body.linear%d" % (1 + 2 * pol["blocks"]), h)


def main():
    T, meta = load(sys.argv[1])
    cfg = json.loads(meta["rldt_config"])
    worst = 0.0
    for line in open(sys.argv[2]):
        head, obs, v = line.split("|")
        head = np.array(head.split(), dtype=np.float64)
        obs = np.array(obs.split(), dtype=np.float64)
        v = np.array(v.split(), dtype=np.float64)
        mine = velocity(T, cfg, head[0], head[1:], obs)
        worst = max(worst, float(np.max(np.abs(mine - v) / np.maximum(np.abs(v), 1e-2))))
    print("max relative error %.3g" % worst)
    sys.exit(0 if worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
