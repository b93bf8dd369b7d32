"""check_safetensors.py FILE.safetensors CASES.txt — reimplements the exported velocity field in numpy from
the safetensors file alone (tensor names and metadata as documented in include/rldt/export.h) and checks it
against rldt's outputs. CASES.txt: one line per case, "t x... | obs... | v..." (floats; obs: the raw low-dim
observation), for a pixel policy followed by "| image..." (the uint8 image, [h][w][c] as rldt reads it): its
encoder runs in PyTorch's NCHW layout (explicit convolution loops over the taps), and where torch is installed
the encoder's tensors are also loaded into torch.nn.Conv2d, Linear and LayerNorm, which must give the same
features (skipped, saying so, without torch). Exits non-zero on any mismatch. Uses /usr/bin/python3 with numpy;
parses the safetensors header itself (the format is an 8-byte little-endian length, a JSON header and raw
little-endian data)."""
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


def conv2d(x, w, b, stride):
    """x [C, H, W], w [O, C, 3, 3] (torch.nn.Conv2d), no padding -> [O, Ho, Wo]."""
    C, H, W = x.shape
    Ho, Wo = (H - 3) // stride + 1, (W - 3) // stride + 1
    out = np.zeros((w.shape[0], Ho, Wo)) + b[:, None, None]
    for ky in range(3):
        for kx in range(3):
            patch = x[:, ky:ky + stride * (Ho - 1) + 1:stride, kx:kx + stride * (Wo - 1) + 1:stride]
            out += np.einsum("oc,chw->ohw", w[:, :, ky, kx], patch)
    return out


def encode(T, enc, image):
    """The DrQ encoder of one uint8 image given [h][w][c], in NCHW: v / 255 - 0.5, the conv layers (ReLU),
    flatten, proj, LayerNorm, tanh."""
    h, w, c = enc["image_hwc"]
    x = (np.asarray(image, dtype=np.float64).reshape(h, w, c) / 255.0 - 0.5).transpose(2, 0, 1)
    for i in range(enc["layers"]):
        x = np.maximum(conv2d(x, T["encoder.conv%d.weight" % i], T["encoder.conv%d.bias" % i],
                              enc["stride0"] if i == 0 else 1), 0)
    return np.tanh(layernorm(T, "encoder.norm", linear(T, "encoder.proj", x.reshape(-1))))


def encode_torch(T, enc, images):
    """The same encoder as torch modules loaded from the file's tensors; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    h, w, c = enc["image_hwc"]
    layers = []
    for i in range(enc["layers"]):
        conv = torch.nn.Conv2d(c if i == 0 else enc["channels"], enc["channels"], 3, stride=enc["stride0"] if i == 0 else 1)
        layers += [conv, torch.nn.ReLU()]
    proj, norm = torch.nn.Linear(*T["encoder.proj.weight"].shape[::-1]), torch.nn.LayerNorm(enc["feature"])
    net = torch.nn.Sequential(*layers, torch.nn.Flatten(), proj, norm, torch.nn.Tanh()).double()
    with torch.no_grad():
        for i in range(enc["layers"]):
            layers[2 * i].weight.copy_(torch.from_numpy(T["encoder.conv%d.weight" % i].copy()))
            layers[2 * i].bias.copy_(torch.from_numpy(T["encoder.conv%d.bias" % i].copy()))
        for name, mod in (("proj", proj), ("norm", norm)):
            mod.weight.copy_(torch.from_numpy(T["encoder.%s.weight" % name].copy()))
            mod.bias.copy_(torch.from_numpy(T["encoder.%s.bias" % name].copy()))
        x = torch.tensor(np.asarray(images, dtype=np.float64).reshape(-1, h, w, c)).permute(0, 3, 1, 2) / 255.0 - 0.5
        return net(x).numpy()


def velocity(T, cfg, t, x, obs, features=None):
    pol = cfg["policy"]
    td = pol["time_dim"]
    half = td // 2
    freqs = np.exp(-np.log(10000.0) * np.arange(half) / (half - 1))
    feats = np.concatenate([np.sin(t * freqs), np.cos(t * freqs)])
    temb = linear(T, "time_mlp.linear1", ACT["mish"](linear(T, "time_mlp.linear0", feats)))
    obs_n = (obs - T["normalizer.obs_mean"]) / T["normalizer.obs_std"]
    act = ACT[pol["activation"]]
    pre = (lambda h, i: layernorm(T, "body.norm%d" % i, h)) if pol["layernorm"] else (lambda h, i: h)
    body_in = [x, temb, obs_n] + ([] if features is None else [features])  # a pixel policy's features: as they are
    h = linear(T, "body.linear0", np.concatenate(body_in))
    for b in range(pol["blocks"]):
        u = linear(T, "body.linear%d" % (1 + 2 * b), act(pre(h, 2 * b)))
        u = linear(T, "body.linear%d" % (2 + 2 * b), act(pre(u, 2 * b + 1)))
        h = h + u
    return linear(T, "body.linear%d" % (1 + 2 * pol["blocks"]), h)


def main():
    T, meta = load(sys.argv[1])
    cfg = json.loads(meta["rldt_config"])
    enc = json.loads(meta["rldt_encoder"]) if "rldt_encoder" in meta else None
    worst, images, feats = 0.0, [], []
    for line in open(sys.argv[2]):
        fields = line.split("|")
        head, obs, v = (np.array(f.split(), dtype=np.float64) for f in fields[:3])
        f = None
        if enc is not None:
            images.append(np.array(fields[3].split(), dtype=np.int64))
            f = encode(T, enc, images[-1])
            feats.append(f)
        mine = velocity(T, cfg, head[0], head[1:], obs, f)
        worst = max(worst, float(np.max(np.abs(mine - v) / np.maximum(np.abs(v), 1e-2))))
    print("max relative error %.3g" % worst)
    ok = worst < 1e-3
    if enc is not None:
        theirs = encode_torch(T, enc, images)
        if theirs is None:
            print("torch: not installed, its check skipped")
        else:
            gap = float(np.max(np.abs(theirs - np.array(feats))))
            print("torch modules' features: max abs difference %.3g" % gap)
            ok = ok and gap < 1e-9
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
