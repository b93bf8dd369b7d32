#!/usr/bin/python3
"""Reads an rldt demonstration file the way robomimic's loader does and exits non-zero on any mismatch.

usage: /usr/bin/python3 tests/check_robomimic.py FILE.h5 [EXPECTED_DEMOS]

Mirrors robomimic.utils.file_utils / SequenceDataset: demo keys sorted by their integer suffix, the
num_samples attribute, env_args parsed as JSON, obs/<key> and next_obs/<key> arrays, actions (normalised
to [-1, 1], as robomimic requires, with env_kwargs.actions_normalized), rewards, dones, states, and the
byte-string masks decoded as utf-8 (a valid mask that is never empty: robomimic's tools fail on one).
tests/check_robomimic_tools.py runs robomimic's own code on the same files.
"""
import json
import sys

import h5py
import numpy as np


def fail(msg):
    print(f"check_robomimic: {msg}", file=sys.stderr)
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


def main():
    if len(sys.argv) not in (2, 3):
        fail("usage: check_robomimic.py FILE.h5 [EXPECTED_DEMOS]")
    path = sys.argv[1]
    with h5py.File(path, "r") as f:
        demos = sorted(f["data"].keys(), key=lambda k: int(k[5:]))
        expect(demos == [f"demo_{i}" for i in range(len(demos))], f"demo keys are not demo_0..demo_{len(demos) - 1}")
        if len(sys.argv) == 3:
            expect(len(demos) == int(sys.argv[2]), f"{len(demos)} demos, expected {sys.argv[2]}")

        env_meta = json.loads(f["data"].attrs["env_args"])
        for key in ("env_name", "type", "env_kwargs"):
            expect(key in env_meta, f"env_args has no '{key}'")
        kw = env_meta["env_kwargs"]
        obs_key, obs_dim, act_dim, state_dim = kw["obs_key"], kw["obs_dim"], kw["act_dim"], kw["state_dim"]
        expect(kw.get("actions_normalized") is True, "env_kwargs.actions_normalized is not true")

        total = 0
        for ep in demos:
            g = f[f"data/{ep}"]
            n = int(g.attrs["num_samples"])
            total += n
            obs = g[f"obs/{obs_key}"][()]
            next_obs = g[f"next_obs/{obs_key}"][()]
            actions, rewards, dones, states = g["actions"][()], g["rewards"][()], g["dones"][()], g["states"][()]
            checks = [
                (obs, np.float32, (n, obs_dim), "obs"),
                (next_obs, np.float32, (n, obs_dim), "next_obs"),
                (actions, np.float32, (n, act_dim), "actions"),
                (rewards, np.float32, (n,), "rewards"),
                (dones, np.uint8, (n,), "dones"),
                (states, np.float64, (n, state_dim), "states"),
            ]
            for arr, dtype, shape, name in checks:
                expect(arr.dtype == dtype, f"{ep}/{name} dtype {arr.dtype}, expected {np.dtype(dtype)}")
                expect(arr.shape == shape, f"{ep}/{name} shape {arr.shape}, expected {shape}")
                expect(np.all(np.isfinite(arr)), f"{ep}/{name} has non-finite values")
            expect(set(g["obs"].keys()) == set(g["next_obs"].keys()), f"{ep}: obs and next_obs keys differ")
            expect(np.array_equal(next_obs[:-1], obs[1:]), f"{ep}: next_obs[t] != obs[t + 1]")
            expect(dones[-1] == 1 and not dones[:-1].any(), f"{ep}: dones is not 0 ... 0 1")
            expect(np.all(actions >= -1) and np.all(actions <= 1), f"{ep}: actions outside [-1, 1]")
        expect(int(f["data"].attrs["total"]) == total, f"total {f['data'].attrs['total']} != {total}")

        masks = {k: [e.decode("utf-8") for e in np.array(f[f"mask/{k}"][:])] for k in ("train", "valid")}
        expect(len(masks["valid"]) >= 1, "the valid mask is empty")
        if len(demos) == 1:
            expect(masks["train"] == masks["valid"] == demos, "one demo: both masks must name it")
        else:
            expect(not set(masks["train"]) & set(masks["valid"]), "train and valid masks overlap")
            expect(sorted(masks["train"] + masks["valid"], key=lambda k: int(k[5:])) == demos, "masks do not cover the demos")
    print(f"check_robomimic: {path}: {len(demos)} demos, {total} samples, ok")


if __name__ == "__main__":
    main()
