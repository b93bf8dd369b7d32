#!/usr/bin/env python3
"""manip_stages.py FILE.h5 — how far each episode of a manipulation task got, stage by stage.

FILE is a dataset of `rldt collect` or `rldt eval CKPT export=FILE` on lift, pickplace, stack, stack3 or bins2 (or
their *_rgb variants): the task comes from data.attrs['env_args'], the physics state from each demo's
`states` (qpos: the hand's x, y, z, the two fingers, then 7 numbers per cube; then qvel). For every
placement of the task, in order, an episode can reach

  lifted   the placement's cube is off the table (its centre more than 1 cm above resting there) while
           every earlier placement holds
  placed   the placement holds (the task's rule, host/envs/mujoco/manip.c: centres within 2 cm
           horizontally and 4 cm +- 6 mm vertically; pickplace, bins2: inside its bin) with every earlier one
and the last stage, `success`, is the episode's reward. Each row counts the episodes in which its
condition held in some state of the file (the state before each step), or that succeeded (the state after
the success step is not in the file); `success` is the success rate `rldt eval` prints. Prints one line per
stage; exits 2 on a file of another task. Needs h5py and numpy.
"""
import json
import sys

import h5py
import numpy as np

HALF = 0.02            # cube half side (MANIP_HALF)
PLACE_XY, PLACE_Z = 0.02, 0.006
BIN_HALF, BIN_WALL = 0.06, 0.05
BINS = {"pickplace": [(0.0, 0.2)], "bins2": [(-0.1, 0.2), (0.1, 0.2)]}  # bin centres (x, y), as in the models
LIFTED = HALF + 0.01   # a cube's centre this high is off the table
# (cube, base): base a cube index, or ("bin", b), the task's bin b
PLACEMENTS = {"lift": [], "pickplace": [(0, ("bin", 0))], "stack": [(0, 1)], "stack3": [(1, 0), (2, 1)],
              "bins2": [(0, ("bin", 0)), (1, ("bin", 1))]}
CUBES = {"lift": 1, "pickplace": 1, "stack": 2, "stack3": 3, "bins2": 2}
NAMES = "ABC"


def cube(q, i):
    return q[:, 5 + 7 * i:8 + 7 * i]


def placed(task, q, c, base):
    p = cube(q, c)
    if isinstance(base, tuple):
        x, y = BINS[task][base[1]]
        return (np.abs(p[:, 0] - x) < BIN_HALF - HALF) & (np.abs(p[:, 1] - y) < BIN_HALF - HALF) & (p[:, 2] < BIN_WALL)
    b = cube(q, base)
    return (np.hypot(p[:, 0] - b[:, 0], p[:, 1] - b[:, 1]) < PLACE_XY) & (np.abs(p[:, 2] - b[:, 2] - 2 * HALF) < PLACE_Z)


def stages(task):
    """(name, test) pairs: test(q, rewards) -> whether an episode reached the stage."""
    out = []
    if task == "lift":
        out.append(("lifted A", lambda q, r: bool((cube(q, 0)[:, 2] > LIFTED).any())))
    held = []  # the placements before this one, as (cube, base)
    for c, base in PLACEMENTS[task]:
        def before(q, held=tuple(held)):
            ok = np.ones(len(q), bool)
            for hc, hb in held:
                ok &= placed(task, q, hc, hb)
            return ok
        where = ("into bin " + NAMES[base[1]] if len(BINS[task]) > 1 else "into the bin") if isinstance(base, tuple) else "on " + NAMES[base]
        out.append((f"lifted {NAMES[c]}", lambda q, r, c=c, before=before: bool((before(q) & (cube(q, c)[:, 2] > LIFTED)).any())))
        out.append((f"{NAMES[c]} {where}", lambda q, r, c=c, base=base, before=before: bool((before(q) & placed(task, q, c, base)).any())))
        held.append((c, base))
    out.append(("success", lambda q, r: bool(r.sum() > 0)))
    return out


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    try:
        return report(argv[1])
    except (OSError, KeyError, ValueError) as e:
        print(f"{argv[1]}: not an episode file of rldt ({e})", file=sys.stderr)
        return 2


def report(path):
    with h5py.File(path, "r") as f:
        task = json.loads(f["data"].attrs["env_args"])["env_name"].removesuffix("_rgb")
        if task not in PLACEMENTS:
            print(f"{path}: task {task} is not a manipulation task (lift, pickplace, stack, stack3, bins2)", file=sys.stderr)
            return 2
        rows = stages(task)
        reached = np.zeros(len(rows), int)
        demos = list(f["data"])
        for k in demos:
            states = f["data"][k]["states"]
            if states.ndim != 2 or states.shape[1] != 10 + 13 * CUBES[task]:  # qpos (5 + 7 per cube), qvel (5 + 6 per cube)
                raise ValueError(f"{k}/states has shape {states.shape}, not [T, {10 + 13 * CUBES[task]}] as {task}'s")
            q = states[:, : 5 + 7 * CUBES[task]]
            r = f["data"][k]["rewards"][:]
            won = rows[-1][1](q, r)  # a success reached every stage, though its last state is not in the file
            reached += [won or test(q, r) for _, test in rows]
    print(f"{task}: {len(demos)} episodes")
    for (name, _), n in zip(rows, reached):
        print(f"  {name:<16} {n:6d}  {100.0 * n / max(len(demos), 1):5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
