"""Where things live: the library home (STUDIO_HOME / --home / the platform's user data dir)
and the resources shipped with the app (also inside a PyInstaller bundle)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "ModelStudio"
HOME_ENV = "STUDIO_HOME"


def default_home() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def resolve_home(explicit: str | os.PathLike | None = None) -> Path:
    """--home beats STUDIO_HOME beats the platform's user data dir."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return default_home()


def app_root() -> Path:
    """The folder holding resources/ and kernels/: the bundle in a frozen app, else the source tree."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parents[2]


def resources_dir() -> Path:
    return app_root() / "resources"


def shipped_kernels_dir() -> Path:
    return app_root() / "kernels"


def worker_command() -> list[str]:
    """How to start `studio ...` as a child process: the frozen app itself, or this interpreter."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "studio"]
