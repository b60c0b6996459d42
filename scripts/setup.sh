#!/usr/bin/env bash
# Set up polyface on a fresh Debian/Ubuntu machine: system packages (when missing and when
# we can install them: as root or with sudo), then a virtual environment in .venv.
#   scripts/setup.sh          what `polyface evolve` needs
#   scripts/setup.sh --test   also what the test suite needs (pytest, hypothesis, Chromium, ffmpeg plugin,
#                             Ray for the gallery engine's tests, dlib for the benchmark's judges);
#                             the plain setup never installs Ray
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
want_test=0
[[ ${1:-} == --test ]] && want_test=1

apt_packages=(pkg-config libcairo2-dev)
[[ $want_test == 1 ]] && apt_packages+=(chromium)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
  if [[ $sudo == none ]]; then
    echo "polyface setup: missing system packages: ${missing[*]}" >&2
    echo "run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "polyface setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
    # Chromium is only for the browser test, which skips without it; the rest is required.
    required=()
    for p in "${missing[@]}"; do [[ $p == chromium ]] || required+=("$p"); done
    if ((${#required[@]})); then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${required[@]}" >/dev/null
    fi
    echo "polyface setup: chromium could not be installed; the browser test will be skipped" >&2
  fi
fi

if [[ ! -x $VENV/bin/python ]]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.polyface-installed"
[[ $want_test == 1 ]] && stamp="$VENV/.polyface-installed-test"
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if [[ $want_test == 1 ]]; then extras="[test,video,ray,judges]"; else extras=""; fi
  "$VENV/bin/python" -m pip install -q -e ".$extras" 2> >(grep -v "^WARNING: Location" >&2)
  touch "$stamp"
fi
