#!/usr/bin/python3
"""Writes HDF5 files in robomimic's own layout and dtypes, as robomimic's robosuite datasets hold them, for
the reader tests (tests/test_robomimic_io.c). Needs h5py and numpy only.

usage: make_robomimic_files.py lift OUT.h5 [BAD]
           a robosuite Lift file: 4 demos (demo_0, demo_1, demo_2, demo_5), float64 low-dim keys
           robot0_eef_pos [T,3], robot0_eef_quat [T,4], robot0_gripper_qpos [T,2], object [T,10],
           uint8 agentview_image [T,12,16,3], next_obs of each, float64 actions [T,7] in [-1,1], float64
           rewards, int64 dones, float64 states [T,9]; masks train (demo_0, demo_2, demo_5), valid (demo_1)
           and 20_percent; env_args as robosuite writes it (env_name, type 1, env_kwargs of robosuite).
           Every low-dim value is lowdim(k, d, t, j) below (k the key's index in LOWDIM, d the demo number),
           so a reader can check each one. BAD makes one defect:
             nan          robot0_eef_pos of demo_2 holds a NaN at step 1, dim 2
             ragged       object of demo_1 has one row fewer than num_samples
             wrong_dims   robot0_eef_quat of demo_0 is [T, 2, 2]
             mask_ghost   mask/train names demo_9, which is not in /data
             image_dims   agentview_image of demo_0 is [T, 12, 16] (no channels)
             image_dtype  agentview_image of demo_0 is float32
             actions      actions of demo_5 reach 1.5
       make_robomimic_files.py from-rldt IN.h5 OUT.h5 [--no-masks]
           rldt's pendulum file IN rewritten the way robomimic writes one: obs/state split into float64
           keys cos_sin [T,2] and theta_dot [T,1], float64 rewards, int64 dones, env_args without rldt's spec
           (env_name, type 2, env_kwargs {}), no success attributes; masks copied unless --no-masks.
       make_robomimic_files.py pixels IO.h5
           adds to rldt's pendulum file IO, in place, for the pixel pretraining tests: obs/pixels (and next_obs/)
           uint8 [T, 16, 16, 1], a drawing of the state (a bright 3 x 3 dot on a circle of radius 5 at the
           pendulum's angle, a bar along the bottom row as long as |theta_dot| / 8 of the width, starting left
           for negative and right for positive velocities), and obs/blank float32 [T, 3] of zeros, a low-dim
           key that tells nothing.
"""
import json
import sys

import h5py
import numpy as np

LOWDIM = [("robot0_eef_pos", 3), ("robot0_eef_quat", 4), ("robot0_gripper_qpos", 2), ("object", 10)]
DEMOS = {0: 5, 1: 3, 2: 4, 5: 6}  # demo number -> num_samples
IMAGE = ("agentview_image", (12, 16, 3))
ACT_DIM, STATE_DIM = 7, 9

ENV_ARGS = {
    "env_name": "Lift",
    "env_version": "1.4.1",
    "type": 1,
    "env_kwargs": {
        "has_renderer": False,
        "has_offscreen_renderer": True,
        "ignore_done": True,
        "use_object_obs": True,
        "use_camera_obs": True,
        "control_freq": 20,
        "controller_configs": {"type": "OSC_POSE", "input_max": 1, "input_min": -1,
                               "output_max": [0.05, 0.05, 0.05, 0.5, 0.5, 0.5],
                               "output_min": [-0.05, -0.05, -0.05, -0.5, -0.5, -0.5],
                               "kp": 150, "damping": 1, "impedance_mode": "fixed", "control_delta": True},
        "robots": ["Panda"],
        "camera_depths": False,
        "camera_heights": 12,
        "camera_widths": 16,
        "camera_names": ["agentview"],
        "reward_shaping": False,
    },
}


def lowdim(k, d, t, j):
    """The value of low-dim key k, demo d, step t, dim j (the C test computes the same double)."""
    return k * 10.0 + d + t * 0.01 + j * 0.001 + 1.0 / 3.0


def names(ids):
    return np.array([f"demo_{i}".encode("utf-8") for i in ids], dtype="S")


def write_lift(path, bad):
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        total = 0
        for d, T in DEMOS.items():
            g = data.create_group(f"demo_{d}")
            g.attrs["num_samples"] = T
            g.attrs["model_file"] = "<mujoco model='lift'/>"
            total += T
            for group, shift in (("obs", 0), ("next_obs", 1)):
                o = g.create_group(group)
                for k, (key, dim) in enumerate(LOWDIM):
                    x = np.array([[lowdim(k, d, t + shift, j) for j in range(dim)] for t in range(T)], dtype=np.float64)
                    if group == "obs" and bad == "nan" and d == 2 and key == "robot0_eef_pos":
                        x[1, 2] = np.nan
                    if bad == "ragged" and d == 1 and key == "object":
                        x = x[:-1]
                    if bad == "wrong_dims" and d == 0 and key == "robot0_eef_quat":
                        x = x.reshape(T, 2, 2)
                    o.create_dataset(key, data=x)
                img = np.array([(np.arange(np.prod(IMAGE[1])) + 7 * d + t + shift) % 256 for t in range(T)], dtype=np.uint8)
                img = img.reshape((T,) + IMAGE[1])
                if bad == "image_dims" and d == 0:
                    img = img[..., 0]
                if bad == "image_dtype" and d == 0:
                    img = img.astype(np.float32)
                o.create_dataset(IMAGE[0], data=img, compression="gzip")
            act = np.array([[np.sin(d + t + j) for j in range(ACT_DIM)] for t in range(T)], dtype=np.float64)
            if bad == "actions" and d == 5:
                act[2, 3] = 1.5
            g.create_dataset("actions", data=act)
            rew = np.zeros(T, dtype=np.float64)
            rew[-1] = 1.0 if d != 1 else 0.0  # demo_1 never succeeds
            g.create_dataset("rewards", data=rew)
            dones = np.zeros(T, dtype=np.int64)
            dones[-1] = 1
            g.create_dataset("dones", data=dones)
            g.create_dataset("states", data=np.arange(T * STATE_DIM, dtype=np.float64).reshape(T, STATE_DIM) + d)
        data.attrs["total"] = total
        data.attrs["env_args"] = json.dumps(ENV_ARGS)
        train = [0, 2, 5] + ([9] if bad == "mask_ghost" else [])
        f.create_dataset("mask/train", data=names(train))
        f.create_dataset("mask/valid", data=names([1]))
        f.create_dataset("mask/20_percent", data=names([0]))


def from_rldt(src, dst, masks):
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as o:
        env = json.loads(f["data"].attrs["env_args"])
        kw = env["env_kwargs"]
        low, high = np.array(kw["act_low"]), np.array(kw["act_high"])
        data = o.create_group("data")
        for ep in f["data"]:
            g, h = f["data"][ep], data.create_group(ep)
            h.attrs["num_samples"] = g.attrs["num_samples"]
            for group in ("obs", "next_obs"):
                x = g[group][kw["obs_key"]][()].astype(np.float64)
                h.create_dataset(f"{group}/cos_sin", data=x[:, :2])
                h.create_dataset(f"{group}/theta_dot", data=x[:, 2:])
            a = g["actions"][()].astype(np.float64)
            if not kw.get("actions_normalized", False):
                a = (a - (low + high) / 2) / ((high - low) / 2)
            h.create_dataset("actions", data=a)
            h.create_dataset("rewards", data=g["rewards"][()].astype(np.float64))
            h.create_dataset("dones", data=g["dones"][()].astype(np.int64))
            h.create_dataset("states", data=g["states"][()])
        data.attrs["total"] = f["data"].attrs["total"]
        data.attrs["env_args"] = json.dumps({"env_name": env["env_name"], "type": 2, "env_kwargs": {}})
        if masks:
            for k in f["mask"]:
                o.create_dataset(f"mask/{k}", data=f["mask"][k][()])


def draw(state):
    """The 16 x 16 x 1 picture of one pendulum state (cos, sin, theta_dot)."""
    img = np.full((16, 16, 1), 20, dtype=np.uint8)
    y, x = int(round(7.5 - 5 * state[0])), int(round(7.5 + 5 * state[1]))
    img[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2, 0] = 255
    n = min(int(round(abs(state[2]) / 8 * 16)), 16)
    if state[2] < 0:
        img[15, :n, 0] = 200
    else:
        img[15, 16 - n:, 0] = 200
    return img


def add_pixels(path):
    with h5py.File(path, "r+") as f:
        key = json.loads(f["data"].attrs["env_args"])["env_kwargs"]["obs_key"]
        for ep in f["data"]:
            for group in ("obs", "next_obs"):
                if group not in f["data"][ep]:
                    continue
                g = f["data"][ep][group]
                state = g[key][()]
                g.create_dataset("pixels", data=np.stack([draw(s) for s in state]), compression="gzip")
                g.create_dataset("blank", data=np.zeros_like(state, dtype=np.float32))


def main():
    a = sys.argv[1:]
    if len(a) in (2, 3) and a[0] == "lift":
        write_lift(a[1], a[2] if len(a) == 3 else None)
    elif len(a) == 2 and a[0] == "pixels":
        add_pixels(a[1])
    elif len(a) in (3, 4) and a[0] == "from-rldt" and (len(a) == 3 or a[3] == "--no-masks"):
        from_rldt(a[1], a[2], len(a) == 3)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
