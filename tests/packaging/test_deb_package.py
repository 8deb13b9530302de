"""The packaged app as a user gets it: build the .deb from this checkout, install it with apt, run
`model-studio self-test` with a clean environment (no virtualenv, `env -i`), launch the GUI from the
installed menu entry's Exec line, look at it, close it, remove the package, and check the user's
library is still there.

Selected with `-m package` (needs root, apt and ~15 GB of disk; about 20-30 minutes on 2 cores):
    bash scripts/test.sh -m package
STUDIO_TEST_DEB=dist/model-studio_VERSION_amd64.deb skips the build and tests that package.
It is not part of the default run (see packaging/README.md for why and the measured times)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.package, pytest.mark.slow, pytest.mark.timeout(5400)]

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = Path("/usr/share/applications/model-studio.desktop")


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def installed_package():
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("needs root and apt to install a .deb")
    prebuilt = os.environ.get("STUDIO_TEST_DEB")  # a .deb that packaging/build.sh made before
    if prebuilt:
        debs = [Path(prebuilt).resolve()]
    else:
        build = _run(["bash", str(ROOT / "packaging" / "build.sh"), "--no-tarball"], timeout=3600)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        debs = sorted((ROOT / "dist").glob("model-studio_*.deb"))
    assert debs and debs[-1].is_file(), "no .deb built"
    install = _run(["apt-get", "install", "-y", "-q", str(debs[-1])], timeout=1800,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    yield debs[-1]
    _run(["apt-get", "remove", "-y", "-q", "model-studio"], timeout=600)


def _clean_env(home: Path) -> dict[str, str]:
    """HOME, PATH and the display (with its X authority file, which xvfb-run and desktop sessions
    set): nothing of this checkout's virtualenv or Python reaches the installed app."""
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    for name in ("DISPLAY", "XAUTHORITY"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def test_installed_app_passes_its_self_test_without_a_python_environment(installed_package, tmp_path):
    assert Path("/opt/model-studio/model-studio").is_file()
    assert shutil.which("model-studio", path="/usr/bin")
    proc = _run(["env", "-i", *[f"{k}={v}" for k, v in _clean_env(tmp_path).items()], "model-studio", "self-test"],
                timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "self-test passed"


@pytest.mark.gui
def test_menu_entry_opens_the_window_and_removing_keeps_the_library(installed_package, tmp_path, qapp):
    from PySide6.QtGui import QGuiApplication

    exec_line = next(line for line in DESKTOP.read_text().splitlines() if line.startswith("Exec="))
    argv = [a for a in shlex.split(exec_line.removeprefix("Exec=")) if not a.startswith("%")]
    app = subprocess.Popen(["env", "-i", *[f"{k}={v}" for k, v in _clean_env(tmp_path).items()], *argv],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        shown = False
        while time.monotonic() < deadline and app.poll() is None:
            tree = _run(["xwininfo", "-root", "-tree"]).stdout
            if '"Model Studio"' in tree:
                shown = True
                break
            time.sleep(1)
        assert shown, f"no window (exit {app.poll()})"
        time.sleep(3)  # let it paint
        shot = QGuiApplication.primaryScreen().grabWindow(0)
        artifacts = ROOT / "tests" / "_artifacts"
        artifacts.mkdir(exist_ok=True)
        shot.save(str(artifacts / "installed_app_window.png"))
        app.terminate()  # SIGTERM closes the window properly
        app.wait(60)
    finally:
        if app.poll() is None:
            app.kill()
    library = tmp_path / ".local" / "share" / "ModelStudio"
    assert (library / "library.db").is_file()  # the default library, with the demo dataset
    removed = _run(["apt-get", "remove", "-y", "-q", "model-studio"], timeout=600)
    assert removed.returncode == 0, removed.stderr[-2000:]
    assert not Path("/opt/model-studio").exists()
    assert not DESKTOP.exists()
    assert (library / "library.db").is_file()  # the user's library is theirs
