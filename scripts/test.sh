#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Linux machine, then run it.
# System packages (root + apt only): Xvfb and the xcb libraries Qt needs for real windows,
# a JACK server for real virtual MIDI ports and audio input, PortAudio for sounddevice.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-shape0 libxcb-randr0
              libxcb-render-util0 libxcb-image0 libxkbcommon-x11-0 libgl1 libegl1 libglib2.0-0
              libfontconfig1 libdbus-1-3 libportaudio2 jackd2 imagemagick)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q torch==2.13.0 -e '.[test]'

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
lint-imports
python -m pytest -q "$@"
