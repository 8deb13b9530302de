"""Load the compiler stack's native library before the first OpenGL context exists.

Mesa's OpenGL (llvmpipe, and the shader compilers of Intel/AMD drivers on Linux) loads its own LLVM
when the first context is made. Triton bundles another LLVM in ``libtriton``; loaded *after* Mesa's,
it crashes the process (a segfault, no message). torch imports triton from ``torch._dynamo``, which
``torch.compile``, the ONNX exporter and even ``torchvision.ops`` (so every torchvision model) pull
in, so any of them after a vispy canvas or a camera was opened used to kill the app. Loaded first,
both LLVMs coexist and draw the same pixels (checked by tests/ui/test_gl_compiler_order.py, which
walks the app's pages in a fresh process the way a user does).

So everything that creates an OpenGL context calls ``load_before_opengl()`` first. It costs one
import (~0.15 s) once, on the first page that draws with OpenGL, not at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded = False


def load_before_opengl() -> None:
    """Import triton now if it is installed (idempotent, thread-safe)."""
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        if importlib.util.find_spec("triton") is None:
            return  # CPU-only torch builds, macOS: nothing to protect
        try:
            importlib.import_module("triton")
        except Exception as exc:  # noqa: BLE001 - a broken triton fails later in torch with its own message
            log.warning("could not preload triton before OpenGL: %s", exc)

