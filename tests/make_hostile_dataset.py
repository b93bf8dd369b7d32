#!/usr/bin/python3
"""Writes a hostile copy of a valid rldt dataset: sizes that would exhaust memory if trusted, values that
cannot be normalised, names that break parsers. Each must be refused by `rldt dataset info` with exit 2.

usage: /usr/bin/python3 tests/make_hostile_dataset.py SRC.h5 DST.h5 KIND
KIND: samples_huge   demo_0 num_samples (and /data total) say 2^39; the datasets hold what they held
      chunked_huge   demo_0's datasets are declared with 2^39 rows (chunked, nothing stored: the file stays
                     small) and num_samples and total agree: only the memory check can refuse it
      image_64k      env_args image_shape is [65536, 65536, 3]
      image_4k       env_args image_shape is [4096, 4096, 3] and every demo has chunked image datasets of
                     that shape: consistent, but no machine holds it
      mask_huge      /mask/train is declared with 2^39 entries
      mask_wide      /mask/train holds strings of 1 MB each
      total_2e62     /data total is 2^62
      bad_first      a group 'a_not_a_demo' sorts before the demos under /data
      name_overflow  demo_0 is renamed demo_99999999999 (beyond int)
      actions_1e30   demo_0's first action is 1e30
      obs_1e31       demo_0's first observation is 1e31
      act_range      env_args act_high equals act_low
"""
import json
import shutil
import sys

import h5py
import numpy as np

BIG = 2**39


def set_env_args(f, edit):
    args = json.loads(f["data"].attrs["env_args"])
    edit(args["env_kwargs"])
    f["data"].attrs["env_args"] = json.dumps(args)


def redeclare(group, name, rows):
    """Replaces group[name] by an empty chunked dataset of `rows` rows with the same dtype and row shape."""
    old = group[name]
    dtype, row = old.dtype, old.shape[1:]
    del group[name]
    group.create_dataset(name, shape=(rows,) + row, maxshape=(None,) + row, chunks=(1024,) + row, dtype=dtype)


def main():
    src, dst, kind = sys.argv[1:4]
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        data, g = f["data"], f["data/demo_0"]
        n0 = int(g.attrs["num_samples"])
        if kind == "samples_huge":
            g.attrs["num_samples"] = np.int64(BIG)
            data.attrs["total"] = np.int64(data.attrs["total"] - n0 + BIG)
        elif kind == "chunked_huge":
            key = list(g["obs"].keys())[0]
            for name in ("obs/" + key, "next_obs/" + key, "actions", "rewards", "dones", "states"):
                redeclare(g, name, BIG)
            g.attrs["num_samples"] = np.int64(BIG)
            data.attrs["total"] = np.int64(data.attrs["total"] - n0 + BIG)
        elif kind == "image_64k":
            set_env_args(f, lambda kw: kw.update(image_shape=[65536, 65536, 3]))
        elif kind == "image_4k":
            set_env_args(f, lambda kw: kw.update(image_shape=[4096, 4096, 3]))
            for demo in data.values():
                T = int(demo.attrs["num_samples"])
                for group in ("obs", "next_obs"):
                    demo[group].create_dataset("agentview_image", shape=(T, 4096, 4096, 3), chunks=(1, 64, 64, 3), dtype=np.uint8)
        elif kind == "mask_huge":
            del f["mask/train"]
            f["mask"].create_dataset("train", shape=(BIG,), maxshape=(None,), chunks=(1024,), dtype="S16")
        elif kind == "mask_wide":
            del f["mask/train"]
            f["mask"].create_dataset("train", data=np.array([b"demo_0"], dtype="S1048576"))
        elif kind == "total_2e62":
            data.attrs["total"] = np.int64(2**62)
        elif kind == "bad_first":
            data.create_group("a_not_a_demo")
        elif kind == "name_overflow":
            data.move("demo_0", "demo_99999999999")
        elif kind == "actions_1e30":
            g["actions"][0, 0] = 1e30
        elif kind == "obs_1e31":
            key = list(g["obs"].keys())[0]
            g["obs/" + key][0, 0] = 1e31
        elif kind == "act_range":
            set_env_args(f, lambda kw: kw.update(act_high=kw["act_low"]))
        else:
            sys.exit(f"make_hostile_dataset: unknown kind {kind}")


if __name__ == "__main__":
    main()
