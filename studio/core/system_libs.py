"""The system libraries the window needs on Linux, checked before Qt starts.

Without one of them Qt's xcb platform plugin fails with "Could not load the Qt platform plugin"
and aborts; naming the missing library and the Debian/Ubuntu package that brings it is the
message a user can act on. The .deb declares the same packages (packaging/linux/depends.txt)."""

from __future__ import annotations

import ctypes
import os
import sys

# soname -> Debian/Ubuntu package
GUI_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def needs_x11_libraries() -> bool:
    """Linux with Qt's default (xcb) platform; offscreen/wayland/other systems are not checked."""
    return sys.platform.startswith("linux") and os.environ.get("QT_QPA_PLATFORM", "xcb").startswith("xcb")


def missing_libraries(required: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(soname, package) for each library the dynamic loader cannot load."""
    missing = []
    for soname, package in (GUI_LIBRARIES if required is None else required).items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append((soname, package))
    return missing


def missing_message(missing: list[tuple[str, str]]) -> str:
    names = ", ".join(soname for soname, _ in missing)
    packages = " ".join(sorted({package for _, package in missing}))
    return (f"the window needs system libraries that are not installed: {names}; "
            f"on Debian/Ubuntu: sudo apt install {packages}")
