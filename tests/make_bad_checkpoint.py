#!/usr/bin/python3
"""Writes a damaged or edited copy of a valid rldt checkpoint, the way a hostile user or a buggy tool
(h5py here) would. Edits keep every checksum valid unless the kind says otherwise, so what is tested is the
reader's validation of the values, not the checksums.

usage: /usr/bin/python3 tests/make_bad_checkpoint.py SRC DST KIND [ARGS...]
KIND: scalar NAME VALUE        set /scalars NAME to VALUE and re-sign the header checksum
      scalar_nosign NAME VALUE set /scalars NAME to VALUE, header checksum left stale
      extra_scalar NAME VALUE  add a scalar (header left stale)
      no_scalar NAME           delete scalar NAME and re-sign (a file from a build that did not write it)
      config KEY VALUE         set a key of the stored config JSON ("a.b" = nested) and re-sign
      config_nosign KEY VALUE  the same, header checksum left stale
      tensor NAME INDEX VALUE  set element INDEX of tensor NAME (float) to VALUE (its Fletcher-32 stays valid)
      fill NAME VALUE          set every element of tensor NAME to VALUE
      no_checksum NAME         rewrite tensor NAME without the Fletcher-32 filter
      float64 NAME             rewrite tensor NAME as float64
      flip NAME                flip one bit of tensor NAME's stored bytes behind HDF5's back
      version VALUE            set format_version (header left as it is)
"""
import json
import shutil
import struct
import sys
import zlib

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def header_crc(f):
    """CRC-32 of the header as include/rldt/checkpoint.h defines it."""
    crc = 0

    def add(b, c):
        return zlib.crc32(b, c)

    crc = add(text(f.attrs["format"]).encode() + b"\0", crc)
    crc = add(struct.pack("<q", 2), crc)
    for key in ("kind", "config", "rldt_version"):
        crc = add(text(f.attrs[key]).encode() + b"\0", crc)
    g = f["scalars"]
    for name in sorted(g.attrs.keys(), key=lambda s: s.encode()):
        crc = add(name.encode() + b"\0", crc)
        crc = add(struct.pack("<q", int(g.attrs[name])), crc)
    return crc


def sign(f):
    f.attrs["header_crc32"] = np.int64(header_crc(f))


def rewrite(f, name, data, **kw):
    del f[name]
    f.create_dataset(name, data=data, **kw)


def main():
    src, dst, kind, *args = sys.argv[1:]
    shutil.copyfile(src, dst)
    if kind == "flip":
        with h5py.File(dst, "r") as f:
            offset = f[args[0]].id.get_offset()  # None for a chunked dataset: read its first chunk's address
            if offset is None:
                offset = f[args[0]].id.get_chunk_info(0).byte_offset
        with open(dst, "r+b") as raw:
            raw.seek(offset + 2)
            b = raw.read(1)
            raw.seek(offset + 2)
            raw.write(bytes([b[0] ^ 0x10]))
        return
    with h5py.File(dst, "r+") as f:
        if kind in ("scalar", "scalar_nosign"):
            f["scalars"].attrs[args[0]] = np.int64(int(args[1]))
            if kind == "scalar":
                sign(f)
        elif kind == "extra_scalar":
            f["scalars"].attrs[args[0]] = np.int64(int(args[1]))
        elif kind == "no_scalar":
            del f["scalars"].attrs[args[0]]
            sign(f)
        elif kind in ("config", "config_nosign"):
            cfg = json.loads(text(f.attrs["config"]))
            node = cfg
            *path, last = args[0].split(".")
            for p in path:
                node = node[p]
            node[last] = json.loads(args[1])
            f.attrs["config"] = json.dumps(cfg)
            if kind == "config":
                sign(f)
        elif kind == "tensor":
            d = f[args[0]]
            d[int(args[1])] = float(args[2])
        elif kind == "fill":
            d = f[args[0]]
            d[...] = float(args[1])
        elif kind == "no_checksum":
            rewrite(f, args[0], f[args[0]][()])
        elif kind == "float64":
            rewrite(f, args[0], f[args[0]][()].astype(np.float64), chunks=True, fletcher32=True)
        elif kind == "version":
            f.attrs["format_version"] = np.int64(int(args[0]))
        else:
            sys.exit(f"make_bad_checkpoint: unknown kind {kind}")


if __name__ == "__main__":
    main()
