#!/usr/bin/env bash
# One-shot setup on a fresh Debian 12 machine with Python 3.11, as root:
# the Arm cross toolchain, QEMU, make and CMake (the firmware folders build with either), and this
# package with pinned Python dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
    || ! command -v make >/dev/null || ! command -v cmake >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make cmake >/dev/null
fi
# torch first and exactly pinned, so nothing below can pull a CUDA build.
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[test]'
