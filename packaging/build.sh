#!/usr/bin/env bash
# Build the packaged desktop app from a checkout:
#   dist/ModelStudio/                                  PyInstaller one-folder app (the whole CLI + GUI)
#   dist/model-studio_VERSION_amd64.deb                installs it under /opt/model-studio (dpkg-deb)
#   dist/model-studio-VERSION-linux-x86_64.tar.gz      the same folder, portable
# Options: --skip-bundle (reuse dist/ModelStudio), --no-tarball. Timing and sizes: packaging/README.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/_env.sh"
cd "$ROOT"

BUNDLE=1
TARBALL=1
for arg in "$@"; do
  case "$arg" in
    --skip-bundle) BUNDLE=0 ;;
    --no-tarball) TARBALL=0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

ensure_system_packages
ensure_venv "dev,onnx"
VERSION="$("$VENV/bin/python" -c 'import studio; print(studio.__version__)')"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
DIST="$ROOT/dist"
APP="$DIST/ModelStudio"

TIMES="$DIST/build-times.txt"  # step seconds, read by packaging/record_measurements.py
mkdir -p "$DIST"
: > "$TIMES"
step_start() { STEP_T0=$(date +%s); }
step_end() { echo "$1 $(( $(date +%s) - STEP_T0 ))" >> "$TIMES"; }

if [ "$BUNDLE" = 1 ]; then
  step_start
  "$VENV/bin/python" -m pip install -q "pyinstaller>=6.3"
  "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$ROOT/build/pyinstaller" packaging/studio.spec
  step_end bundle
fi
[ -x "$APP/model-studio" ] || { echo "no bundle at $APP" >&2; exit 1; }

# --- .deb: /opt/model-studio, /usr/bin/model-studio, a menu entry with its icon -----------------
step_start
PKG="$ROOT/build/deb/model-studio_${VERSION}_${ARCH}"
rm -rf "$PKG"
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" \
  "$PKG/usr/share/icons/hicolor/scalable/apps"
cp -al "$APP" "$PKG/opt/model-studio" 2>/dev/null || cp -a "$APP" "$PKG/opt/model-studio"
cat > "$PKG/usr/bin/model-studio" <<'EOF'
#!/bin/sh
exec /opt/model-studio/model-studio "$@"
EOF
chmod 755 "$PKG/usr/bin/model-studio"
sed "s#@EXEC@#/opt/model-studio/model-studio#; s#@ICON@#model-studio#" \
  packaging/linux/model-studio.desktop.in > "$PKG/usr/share/applications/model-studio.desktop"
cp resources/icons/app.svg "$PKG/usr/share/icons/hicolor/scalable/apps/model-studio.svg"
# The system libraries Qt's xcb platform, OpenGL (vispy) and QtMultimedia load: apt brings them.
DEPENDS="$(tr '\n' ' ' < packaging/linux/depends.txt | sed 's/ *$//; s/ /, /g')"
SIZE_KB="$(du -sk "$PKG" | cut -f1)"
cat > "$PKG/DEBIAN/control" <<EOF
Package: model-studio
Version: $VERSION
Architecture: $ARCH
Maintainer: Model Studio developers <model-studio@localhost>
Installed-Size: $SIZE_KB
Depends: $DEPENDS
Section: science
Priority: optional
Homepage: https://localhost/model-studio
Description: label data, train and export neural networks on your own GPU
 A desktop studio to import and label images, train or fine-tune networks
 (on CUDA or the CPU) with live plots, evaluate, try and export them
 (ONNX, TorchScript, safetensors), plus a kernel lab. Self-contained:
 Python, PyTorch and Qt are inside /opt/model-studio. Removing the package
 never touches your library (~/.local/share/ModelStudio).
EOF
install -m 755 packaging/linux/postinst "$PKG/DEBIAN/postinst"
install -m 755 packaging/linux/postrm "$PKG/DEBIAN/postrm"
DEB="$DIST/model-studio_${VERSION}_${ARCH}.deb"
# gzip -1: the payload is mostly already-compressed shared libraries; xz would take many minutes
dpkg-deb --root-owner-group -Zgzip -z1 --build "$PKG" "$DEB"
rm -rf "$PKG"
step_end deb

if [ "$TARBALL" = 1 ]; then
  step_start
  tar -C "$DIST" -cf - ModelStudio | gzip -1 > "$DIST/model-studio-${VERSION}-linux-x86_64.tar.gz"
  step_end tarball
fi
ls -lh "$DIST"/*.deb "$DIST"/*.tar.gz 2>/dev/null || true
