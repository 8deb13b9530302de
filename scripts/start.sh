#!/usr/bin/env bash
# Quick start: install what is needed, then open Model Studio on the default library.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_system_packages
ensure_venv onnx,text
ensure_default_text_encoder
exec "$VENV/bin/studio" "$@"
