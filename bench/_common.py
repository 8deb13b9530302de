"""What the bench scripts share: the machine line and the writer of their docs/benchmarks.md section.

The scripts run as ``python bench/bench_x.py`` (from any folder), so Python puts bench/ first on
sys.path and they import this module as ``from _common import ...``.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
NEW_DOC = "# Benchmarks\n\nRatios against a plain reference measured in the same script.\n"


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (Linux); elsewhere what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine(extra: str = "") -> str:
    """``CPU, N cores, <extra>, Python X.Y.Z, OS``; extra names the device, torch threads etc."""
    parts = [cpu_name(), f"{os.cpu_count()} cores", extra, f"Python {platform.python_version()}", platform.system()]
    return ", ".join(part for part in parts if part)


def _section_span(text: str, section_heading: str) -> tuple[int, int] | None:
    """Start and end of the block from the heading line to the next "## " heading (or the end).
    The heading must be a whole line, so "## Training" does not match "## Training GUI"."""
    found = re.search(rf"^{re.escape(section_heading)}[ \t]*$", text, flags=re.MULTILINE)
    if found is None:
        return None
    nxt = text.find("\n## ", found.end())
    return found.start(), (nxt if nxt != -1 else len(text))


def read_section(section_heading: str, path: Path = BENCHMARKS_MD) -> str | None:
    """The current block of ``section_heading`` (heading included), None when it is not there."""
    text = path.read_text() if path.exists() else ""
    span = _section_span(text, section_heading)
    return text[span[0]: span[1]] if span else None


def replace_section(section_heading: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Put ``body`` (which starts with the heading) in place of the section, or append it.
    Only that block changes, so scripts of other capabilities keep their sections."""
    if not body.startswith(section_heading):
        raise ValueError(f"the body must start with its heading {section_heading!r}")
    text = path.read_text() if path.exists() else NEW_DOC
    span = _section_span(text, section_heading)
    if span:
        text = text[: span[0]] + body + text[span[1]:]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def replace_marked(name: str, body: str, heading: str, path: Path = BENCHMARKS_MD) -> None:
    """Put ``body`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``. Where the markers
    are missing, the marked block goes at the end of section ``heading`` (created when absent).
    Only the marked text changes, so prose around it and other scripts' blocks stay as they are."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else NEW_DOC
    i, j = text.find(start), text.find(end)
    if i != -1 and j != -1:
        text = text[:i] + block + text[j + len(end):]
    else:
        span = _section_span(text, heading)
        if span is None:
            text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
        else:
            section = text[span[0]:span[1]].rstrip("\n")
            text = text[:span[0]] + section + f"\n\n{block}\n" + text[span[1]:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def load_average() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
