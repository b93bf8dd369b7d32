#!/usr/bin/env bash
# install-deps.sh — installs the system packages rldt builds and tests against (Debian/Ubuntu).
# Idempotent: packages already present are reported and skipped. Needs root (or sudo).
set -euo pipefail
PKGS=(build-essential pkg-config zlib1g-dev libopenblas-dev libyaml-dev libcjson-dev libhdf5-dev hdf5-tools
      libmujoco-dev libosmesa6-dev libegl-dev libegl-mesa0 libgl1-mesa-dri
      libopenmpi-dev openmpi-bin libcriterion-dev python3-h5py python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PKGS[@]} packages already installed"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
