#!/usr/bin/python3
"""Writes a damaged copy of a valid rldt dataset, the way a buggy producer (h5py here) would.

usage: /usr/bin/python3 tests/make_bad_dataset.py SRC.h5 DST.h5 KIND
KIND: shape   demo_0/actions gets one column too many
      total   /data total is off by one
      mask    /mask/valid names a demo that does not exist
      nan     a NaN in demo_0's observations
      missing demo_0/rewards is deleted
      samples demo_0 num_samples disagrees with its datasets
"""
import shutil
import sys

import h5py
import numpy as np


def main():
    src, dst, kind = sys.argv[1:4]
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        g = f["data/demo_0"]
        if kind == "shape":
            a = g["actions"][()]
            del g["actions"]
            g.create_dataset("actions", data=np.concatenate([a, a[:, :1]], axis=1))
        elif kind == "total":
            f["data"].attrs["total"] = np.int64(f["data"].attrs["total"] + 1)
        elif kind == "mask":
            del f["mask/valid"]
            f["mask"].create_dataset("valid", data=np.array([b"demo_999"]))
        elif kind == "nan":
            key = list(g["obs"].keys())[0]
            g[f"obs/{key}"][0, 0] = np.nan
        elif kind == "missing":
            del g["rewards"]
        elif kind == "samples":
            g.attrs["num_samples"] = np.int64(g.attrs["num_samples"] + 1)
            f["data"].attrs["total"] = np.int64(f["data"].attrs["total"] + 1)
        else:
            sys.exit(f"make_bad_dataset: unknown kind {kind}")


if __name__ == "__main__":
    main()
