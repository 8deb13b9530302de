#!/usr/bin/env bash
# Build the desktop app folder with PyInstaller: dist/ModelStudio/. Run from anywhere.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/_env.sh"
ensure_system_packages
ensure_venv onnx
"$VENV/bin/python" -m pip install -q "pyinstaller>=6.3"
cd "$ROOT"
"$VENV/bin/pyinstaller" --noconfirm --clean packaging/studio.spec
# Linux desktop entry pointing at the built app
sed "s#@EXEC@#$ROOT/dist/ModelStudio/ModelStudio#; s#@ICON@#$ROOT/resources/icons/app.png#" \
  packaging/linux/model-studio.desktop.in > dist/model-studio.desktop
echo "Built dist/ModelStudio/ModelStudio; install the menu entry with:"
echo "  install -Dm644 dist/model-studio.desktop ~/.local/share/applications/model-studio.desktop"
