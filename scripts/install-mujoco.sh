#!/usr/bin/env bash
# install-mujoco.sh — MuJoCo's C library and the Python test environment, project-local, from PyPI.
#
# Into .deps/ (git-ignored), pinned to one exact version:
#   .deps/wheels/       the official `mujoco` wheel, downloaded once with pip
#   .deps/mujoco/       its C library and headers, unpacked from that wheel: include/mujoco/*.h,
#                       lib/libmujoco.so.<version> (the Makefile links it with an rpath)
#   .deps/venv/         a Python venv for tests and benchmarks: the same wheel, gymnasium (its *-v5 MuJoCo
#                       envs and the MJCF models the C tasks load) and what its MuJoCo envs import, all pinned
# Debian's libmujoco-dev is 2.2.2 (2022), whose physics differs from what Gymnasium and robosuite run today.
# Idempotent: what is already there at the pinned versions is reported and kept. Needs python3 with venv
# (Debian: python3-venv) and network access to PyPI. No root needed.
set -euo pipefail
cd "$(dirname "$0")/.."

MUJOCO_VERSION=3.3.7
GYMNASIUM_VERSION=1.4.0
NUMPY_VERSION=2.2.6
IMAGEIO_VERSION=2.37.0
PACKAGING_VERSION=25.0
DEPS=.deps
VENV=$DEPS/venv
LIBDIR=$DEPS/mujoco
STAMP=$LIBDIR/installed

say() { echo "install-mujoco: $*"; }
. scripts/venv.sh # (the cwd is the repository root)
PYTHON=${PYTHON:-python3}

# 1. the venv (its pip downloads the wheel, so no system pip is needed)
make_venv "$VENV" "$PYTHON"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# 2. the wheel, then its C library and headers
wheel=$(ls "$DEPS/wheels/mujoco-$MUJOCO_VERSION-"*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$wheel" ]; then
    say "wheel $wheel already downloaded"
else
    say "downloading mujoco==$MUJOCO_VERSION from PyPI into $DEPS/wheels"
    "${PIP[@]}" download --quiet --no-deps --only-binary=:all: -d "$DEPS/wheels" "mujoco==$MUJOCO_VERSION"
    wheel=$(ls "$DEPS/wheels/mujoco-$MUJOCO_VERSION-"*.whl | head -n 1)
fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$MUJOCO_VERSION" ]; then
    say "C library $LIBDIR/lib/libmujoco.so.$MUJOCO_VERSION already unpacked"
else
    say "unpacking libmujoco.so.$MUJOCO_VERSION and include/mujoco/*.h from $wheel into $LIBDIR"
    rm -rf "$LIBDIR"
    "$VENV/bin/python" - "$wheel" "$LIBDIR" "$MUJOCO_VERSION" <<'EOF'
import os, shutil, sys, zipfile
wheel, out, version = sys.argv[1:]
lib = f"mujoco/libmujoco.so.{version}"
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    if lib not in names:
        sys.exit(f"install-mujoco: error: {wheel} has no {lib}")
    headers = [n for n in names if n.startswith("mujoco/include/mujoco/") and n.endswith(".h")]
    for name, dest in [(lib, os.path.join(out, "lib", os.path.basename(lib)))] + \
                      [(h, os.path.join(out, h[len("mujoco/"):])) for h in headers]:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(name) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
    print(f"install-mujoco: unpacked {lib} and {len(headers)} headers")
EOF
    ln -s "libmujoco.so.$MUJOCO_VERSION" "$LIBDIR/lib/libmujoco.so"
    echo "$MUJOCO_VERSION" >"$STAMP"
fi

# 3. the venv's packages, the same wheel for mujoco
want=("mujoco==$MUJOCO_VERSION" "gymnasium==$GYMNASIUM_VERSION" "numpy==$NUMPY_VERSION" "imageio==$IMAGEIO_VERSION"
      "packaging==$PACKAGING_VERSION")
have=$("$VENV/bin/python" - <<'EOF' 2>/dev/null || true
from importlib.metadata import version
print(" ".join(f"{p}=={version(p)}" for p in ("mujoco", "gymnasium", "numpy", "imageio", "packaging")))
EOF
)
if [ "$have" = "${want[*]}" ]; then
    say "venv packages already installed: $have"
else
    say "installing into $VENV: ${want[*]}"
    "${PIP[@]}" install --quiet --only-binary=:all: "$wheel" "${want[@]:1}"
fi

# 4. check: the venv imports the pinned versions and finds gymnasium's models
"$VENV/bin/python" - "$MUJOCO_VERSION" <<'EOF'
import os, sys
import mujoco, gymnasium
import gymnasium.envs.mujoco  # its MuJoCo envs import more than gymnasium itself does
if mujoco.__version__ != sys.argv[1]:
    sys.exit(f"install-mujoco: error: venv has mujoco {mujoco.__version__}, expected {sys.argv[1]}")
assets = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets")
for m in ("hopper.xml", "walker2d_v5.xml", "half_cheetah.xml", "ant.xml"):
    if not os.path.isfile(os.path.join(assets, m)):
        sys.exit(f"install-mujoco: error: gymnasium {gymnasium.__version__} has no {m} in {assets}")
print(f"install-mujoco: venv ok: mujoco {mujoco.__version__}, gymnasium {gymnasium.__version__}, models in {assets}")
EOF
say "done (rebuild with make to link MuJoCo)"
