#!/usr/bin/env bash
# Install what the tests need and run the whole suite (GUI tests on a virtual X server).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_system_packages
ensure_venv "dev,onnx"
cd "$ROOT"
exec xvfb-run -a -s "-screen 0 1920x1200x24 +extension GLX" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
