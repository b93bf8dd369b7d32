#!/usr/bin/env bash
# install-robomimic.sh — robomimic from PyPI, pinned, in a venv for the tests that run robomimic's own scripts
# on the files rldt writes (tests/check_robomimic_tools.py).
#
#   .deps/robomimic-venv/   a venv of Debian's python3 with its system site packages: PyTorch, torchvision,
#                           matplotlib, h5py, numpy, tqdm, termcolor, imageio, six and psutil come from Debian
#                           (scripts/install-deps.sh --robomimic), robomimic itself from PyPI without its
#                           declared dependencies (a plain `pip install robomimic` pulls a second, CUDA build of
#                           PyTorch of several GB; robomimic also imports six without declaring it).
# A second venv, not .deps/venv: that one pins numpy 2.x for MuJoCo and Gymnasium and sees no system packages,
# while Debian's PyTorch is built against Debian's numpy. Idempotent; no root needed; needs PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

ROBOMIMIC_VERSION=0.3.0
VENV=.deps/robomimic-venv
PYTHON=${ROBOMIMIC_PYTHON:-/usr/bin/python3} # Debian's: its site packages hold python3-torch
IMPORTS="torch, torchvision, matplotlib, h5py, numpy, tqdm, termcolor, imageio, six, psutil"

say() { echo "install-robomimic: $*"; }
. scripts/venv.sh # (the cwd is the repository root)

if ! "$PYTHON" -c "import $IMPORTS" 2>/dev/null; then
    say "error: $PYTHON cannot import all of: $IMPORTS (run: bash scripts/install-deps.sh --robomimic)" >&2
    exit 1
fi
make_venv "$VENV" "$PYTHON" --system-site-packages
have=$("$VENV/bin/python" -c "from importlib.metadata import version; print(version('robomimic'))" 2>/dev/null || true)
if [ "$have" = "$ROBOMIMIC_VERSION" ]; then
    say "robomimic $have already installed"
else
    say "installing robomimic==$ROBOMIMIC_VERSION without its dependencies"
    "$VENV/bin/python" -m pip --disable-pip-version-check install --quiet --no-deps "robomimic==$ROBOMIMIC_VERSION"
fi
# check: the modules the tests use import (robomimic's training script imports nearly all of robomimic)
"$VENV/bin/python" - "$ROBOMIMIC_VERSION" <<'PY'
import sys
import robomimic, robomimic.scripts.train, robomimic.utils.dataset  # noqa: E401
if robomimic.__version__ != sys.argv[1]:
    sys.exit(f"install-robomimic: error: venv has robomimic {robomimic.__version__}, expected {sys.argv[1]}")
print(f"install-robomimic: venv ok: robomimic {robomimic.__version__}")
PY
