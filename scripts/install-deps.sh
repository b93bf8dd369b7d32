#!/usr/bin/env bash
# install-deps.sh — installs the system packages rldt builds and tests against (Debian/Ubuntu).
# Idempotent: packages already present are reported and skipped. Needs root (or sudo).
#
#   install-deps.sh               what rldt builds and runs with (the Docker images install this)
#   install-deps.sh --robomimic   that, plus what robomimic's own scripts import in the robomimic compatibility
#                                 tests (Debian's CPU build of PyTorch and the rest; `make deps` and CI pass it;
#                                 scripts/install-robomimic.sh then adds robomimic itself in a venv)
set -euo pipefail
PKGS=(build-essential pkg-config zlib1g-dev libopenblas-dev libyaml-dev libcjson-dev libhdf5-dev hdf5-tools
      libosmesa6-dev libegl-dev libegl-mesa0 libgl1-mesa-dri
      libopenmpi-dev openmpi-bin libcriterion-dev python3-h5py python3-numpy python3-venv clang)
# robomimic 0.3 imports these at start-up (besides h5py and numpy; six and psutil come with python3-torch)
ROBOMIMIC_PKGS=(python3-torch python3-torchvision python3-matplotlib python3-tqdm python3-termcolor python3-imageio)
case "${1:-}" in
    "") ;;
    --robomimic) PKGS+=("${ROBOMIMIC_PKGS[@]}") ;;
    *) echo "usage: install-deps.sh [--robomimic]" >&2; exit 2 ;;
esac
# `make fuzz` links with clang -fsanitize=fuzzer, which needs libFuzzer's runtime (libclang_rt.fuzzer). Debian
# 12 ships it in its own package, libclang-rt-dev (libclang-rt-14-dev for the default clang 14); Ubuntu 22.04
# has no such package and ships it with clang's own dependencies. So it is added when clang lacks it and apt
# knows the package.
FUZZER_RT_PKG=libclang-rt-dev
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
fuzzer_rt() { command -v clang >/dev/null && [ -e "$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a")" ]; }
missing=()
for p in "${PKGS[@]}"; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ] && fuzzer_rt; then
    echo "install-deps: all ${#PKGS[@]} packages already installed (and libFuzzer's runtime)"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
if ! fuzzer_rt && ! installed "$FUZZER_RT_PKG" && apt-cache show "$FUZZER_RT_PKG" >/dev/null 2>&1; then
    missing+=("$FUZZER_RT_PKG")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
fuzzer_rt || echo "install-deps: warning: clang has no libFuzzer runtime (libclang_rt.fuzzer): make fuzz will not link" >&2
echo "install-deps: done"
