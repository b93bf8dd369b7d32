#!/usr/bin/python3
"""Damaged copies of an HDF5 file rldt wrote, for tests/test_corruption.c: each edit is made with h5py (as
a buggy tool or a careless user would make it) on a fresh copy of SRC. Many edits in one call, so that
the test pays for Python and h5py once.

usage: /usr/bin/python3 tests/corrupt_h5.py SRC OUTDIR EDIT...        (each EDIT is NAME:OP[:ARG...]; the
                                                                    damaged copy is OUTDIR/NAME; @FILE
                                                                    reads EDITs from FILE, one a line)
       /usr/bin/python3 tests/corrupt_h5.py SRC offsets PATH...     (where the structures of PATHs lie)

OP:   delete:PATH             remove the link PATH (a group or a dataset)
      delattr:PATH:NAME       remove attribute NAME of object PATH
      rename:PATH:NEWPATH     move the link PATH to NEWPATH
      dtype:PATH:DTYPE        rewrite dataset PATH with numpy dtype DTYPE (same values, or zeros where they do
                              not convert; chunks and Fletcher-32 as before)
      shape:PATH:D0xD1...     rewrite dataset PATH with another shape (values repeated or cut to fit)
      value:PATH:INDEX:V      set element INDEX (of the flattened dataset) to V
      int:PATH:NAME:V         set integer attribute NAME of PATH to V (int64)
      json:PATH:NAME:KEY:V    set KEY (dotted: a.b.c) of the JSON text attribute NAME to the JSON value V,
                              written back as rldt writes text (a fixed-length UTF-8 string)
      scalar:NAME:V           checkpoints: set /scalars NAME to V and sign the header again (a consistent
                              edit: what is tested is the reader's range check, not the checksum)
      config:KEY:V            checkpoints: set KEY of the stored config JSON to V and sign again

offsets prints, for each PATH ("/" is the root group), "ohdr PATH ADDR" (its object header) and, for a
chunked dataset, "chunk PATH ADDR SIZE" for each stored chunk; addresses are bytes from the file's start.
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bad_checkpoint  # noqa: E402  (the header checksum)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def set_text_attr(obj, name, s):
    """Sets text attribute NAME as rldt writes text: a fixed-length, NUL-terminated UTF-8 string."""
    obj = obj["/"] if isinstance(obj, h5py.File) else obj
    b = s.encode()
    if name in obj.attrs:
        del obj.attrs[name]
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(b) + 1)
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    tid.set_cset(h5py.h5t.CSET_UTF8)
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    attr = h5py.h5a.create(obj.id, name.encode(), tid, space)
    attr.write(np.array(b + b"\0", dtype=f"S{len(b) + 1}"), mtype=tid)


def rewrite(f, path, data):
    """Replaces dataset `path` by `data`, chunked with Fletcher-32 as rldt writes its datasets."""
    old = f[path]
    attrs = {k: old.attrs[k] for k in old.attrs}
    del f[path]
    kw = dict(chunks=True, fletcher32=True) if data.size else {}
    d = f.create_dataset(path, data=data, **kw)
    for k, v in attrs.items():
        d.attrs[k] = v


def edit(src, outdir, spec):
    name, op, *args = spec.split(":")
    dst = os.path.join(outdir, name)
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        if op == "delete":
            del f[args[0]]
        elif op == "delattr":
            del f[args[0]].attrs[args[1]]
        elif op == "rename":
            f.move(args[0], args[1])
        elif op == "dtype":
            old = f[args[0]][()]
            try:
                new = old.astype(np.dtype(args[1]))
            except ValueError:  # text that is no number: zeros of that type
                new = np.zeros(old.shape, dtype=np.dtype(args[1]))
            rewrite(f, args[0], new)
        elif op == "shape":
            shape = tuple(int(x) for x in args[1].split("x"))
            rewrite(f, args[0], np.resize(f[args[0]][()], shape))
        elif op == "value":
            d = f[args[0]]
            flat = d[()].reshape(-1)
            flat[int(args[1])] = float(args[2])
            d[...] = flat.reshape(d.shape)
        elif op == "int":
            f[args[0]].attrs[args[1]] = np.int64(int(args[2]))
        elif op == "json":
            obj = f[args[0]]
            doc = json.loads(text(obj.attrs[args[1]]))
            node = doc
            *parents, last = args[2].split(".")
            for p in parents:
                node = node[p]
            node[last] = json.loads(args[3])
            set_text_attr(obj, args[1], json.dumps(doc, separators=(",", ":")))
        elif op == "scalar":
            f["scalars"].attrs[args[0]] = np.int64(int(args[1]))
            make_bad_checkpoint.sign(f)
        elif op == "config":
            cfg = json.loads(text(f.attrs["config"]))
            node = cfg
            *parents, last = args[0].split(".")
            for p in parents:
                node = node[p]
            node[last] = json.loads(args[1])
            set_text_attr(f, "config", json.dumps(cfg))
            make_bad_checkpoint.sign(f)
        else:
            sys.exit(f"corrupt_h5: unknown edit {op}")


def offsets(src, paths):
    with h5py.File(src, "r") as f:
        for name in paths:
            obj = f[name]
            print(f"ohdr {name} {h5py.h5o.get_info(obj.id).addr}")
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                for i in range(obj.id.get_num_chunks()):
                    c = obj.id.get_chunk_info(i)
                    print(f"chunk {name} {c.byte_offset} {c.size}")


def main():
    src, *rest = sys.argv[1:]
    if rest[:1] == ["offsets"]:
        offsets(src, rest[1:])
        return
    outdir, *edits = rest
    for spec in edits:
        if spec.startswith("@"):
            with open(spec[1:]) as f:
                for line in f:
                    if line.strip():
                        edit(src, outdir, line.strip())
        else:
            edit(src, outdir, spec)


if __name__ == "__main__":
    main()
