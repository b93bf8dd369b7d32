#!/usr/bin/env bash
# install-robosuite.sh — robosuite from PyPI, pinned, in its own venv for env.name=robosuite:<Task> (the
# Gymnasium bridge's workers run there) and its tests.
#
#   .deps/robosuite-venv/   MuJoCo (the same pinned wheel as .deps/venv, downloaded by install-mujoco.sh),
#                           Gymnasium and numpy at .deps/venv's pins, robosuite itself without its declared
#                           dependencies, and the packages it imports at start-up (numba, scipy, Pillow,
#                           OpenCV headless, termcolor), all pinned.
# robosuite declares more than it imports for the single-arm tasks (mink and qpsolvers for whole-body IK,
# pynput for keyboard teleoperation, pytest, full OpenCV with its GUI libraries): installing without them keeps
# the venv small and headless. A venv of its own, so that .deps/venv stays exactly what the MuJoCo tests pin.
# Run after install-mujoco.sh. Idempotent; no root needed; needs PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

ROBOSUITE_VERSION=1.5.2
MUJOCO_VERSION=3.3.7 # robosuite 1.5 needs mujoco >= 3.3.0 (MuJoCo 4's API change breaks it)
PINS=(gymnasium==1.4.0 numpy==2.2.6 numba==0.61.2 scipy==1.15.3 pillow==11.3.0 opencv-python-headless==4.12.0.88
      termcolor==3.1.0 tqdm==4.67.1)
DEPS=.deps
VENV=$DEPS/robosuite-venv
PYTHON=${PYTHON:-python3}

say() { echo "install-robosuite: $*"; }
. scripts/venv.sh # (the cwd is the repository root)

wheel=$(ls "$DEPS/wheels/mujoco-$MUJOCO_VERSION-"*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    say "error: no mujoco-$MUJOCO_VERSION wheel in $DEPS/wheels (run scripts/install-mujoco.sh first)" >&2
    exit 1
fi
make_venv "$VENV" "$PYTHON"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
have=$("$VENV/bin/python" -c "from importlib.metadata import version; print(version('robosuite'), version('mujoco'))" 2>/dev/null || true)
if [ "$have" = "$ROBOSUITE_VERSION $MUJOCO_VERSION" ]; then
    say "robosuite $ROBOSUITE_VERSION with mujoco $MUJOCO_VERSION already installed"
else
    say "installing into $VENV: $wheel ${PINS[*]}, then robosuite==$ROBOSUITE_VERSION without its dependencies"
    "${PIP[@]}" install --quiet --only-binary=:all: "$wheel" "${PINS[@]}"
    "${PIP[@]}" install --quiet --no-deps "robosuite==$ROBOSUITE_VERSION"
fi
# check: robosuite imports and makes Lift with the pinned MuJoCo (this also compiles and caches numba's kernels)
"$VENV/bin/python" - "$ROBOSUITE_VERSION" "$MUJOCO_VERSION" <<'PY'
import logging, sys
logging.getLogger("robosuite_logs").addFilter(lambda record: record.levelno >= logging.ERROR)  # its set-up chatter
import mujoco, robosuite
if (robosuite.__version__, mujoco.__version__) != tuple(sys.argv[1:3]):
    sys.exit(f"install-robosuite: error: venv has robosuite {robosuite.__version__} with mujoco {mujoco.__version__}, "
             f"expected {sys.argv[1]} with {sys.argv[2]}")
env = robosuite.make("Lift", robots="Panda", has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False)
env.reset()
env.step([0.0] * env.action_dim)
env.close()
print(f"install-robosuite: venv ok: robosuite {robosuite.__version__}, mujoco {mujoco.__version__}")
PY
