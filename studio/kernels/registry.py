"""Find kernels: import each ``*.py`` of the shipped and user kernel folders from its file path and
collect the functions marked ``@kernel``. A module that fails to import is reported with its file
and line; the others still load. Source edited in the GUI loads the same way, from text."""

from __future__ import annotations

import hashlib
import sys
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from studio.core.errors import InvalidInputError, NotFoundError, StudioError
from studio.core.paths import shipped_kernels_dir
from studio.kernels.api import KernelMeta
from studio.kernels.params import ParamSpec, read_params

MODULE_PREFIX = "studio_kernel_modules"


class KernelError(StudioError):
    """A kernel that does not compile or raised: message plus the file and line in the kernel source."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, details: str = ""):
        where = f"{Path(path).name}:{line}" if path and line else (Path(path).name if path else "")
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.details = details  # the traceback, for a "details" pane


@dataclass
class KernelSpec:
    name: str
    fn: Callable[..., Any]
    meta: KernelMeta
    inputs: list[str]
    params: list[ParamSpec]
    path: Path
    line: int
    origin: str  # "shipped" | "user" | "edited"

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def output(self) -> str:
        return self.meta.output

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise NotFoundError(f"kernel {self.name} has no parameter {name!r}")

    def default_params(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


@dataclass
class LoadReport:
    kernels: dict[str, KernelSpec] = field(default_factory=dict)
    errors: list[KernelError] = field(default_factory=list)


def error_from_exception(exc: BaseException, path: str | Path) -> KernelError:
    """A KernelError naming the deepest line of ``path`` in the traceback (or the syntax error line)."""
    path = str(path)
    if isinstance(exc, SyntaxError) and exc.filename == path:
        text = (exc.text or "").strip()
        msg = f"SyntaxError: {exc.msg}" + (f" in `{text}`" if text else "")
        return KernelError(msg, path=path, line=exc.lineno, details="".join(traceback.format_exception_only(type(exc), exc)))
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    if isinstance(exc, KernelError):
        return exc
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return KernelError(f"{type(exc).__name__}: {exc}", path=path, line=line, details=details)


def load_module_source(source: str, path: str | Path, origin: str) -> tuple[types.ModuleType, list[KernelSpec]]:
    """Execute kernel module source as if it were the file at ``path`` (so tracebacks point there)."""
    path = Path(path)
    digest = hashlib.sha1(f"{path}:{origin}".encode()).hexdigest()[:10]
    mod_name = f"{MODULE_PREFIX}.{path.stem}_{digest}"
    module = types.ModuleType(mod_name)
    module.__file__ = str(path)
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
    try:
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)
        specs = collect(module, path, origin)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise error_from_exception(exc, path) from None
    return module, specs


def load_module_file(path: Path, origin: str) -> list[KernelSpec]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KernelError(f"cannot read: {exc}", path=str(path)) from None
    return load_module_source(source, path, origin)[1]


def collect(module: types.ModuleType, path: Path, origin: str) -> list[KernelSpec]:
    specs = []
    for value in vars(module).values():
        meta = getattr(value, "__kernel__", None)
        if not isinstance(meta, KernelMeta) or getattr(value, "__module__", None) != module.__name__:
            continue
        try:
            inputs, params = read_params(value)
        except InvalidInputError as exc:
            raise KernelError(str(exc), path=str(path), line=value.__code__.co_firstlineno) from None
        specs.append(
            KernelSpec(value.__name__, value, meta, inputs, params, path, value.__code__.co_firstlineno, origin)
        )
    return sorted(specs, key=lambda s: s.line)


def kernel_dirs(home: Path | None) -> list[tuple[Path, str]]:
    dirs = [(shipped_kernels_dir(), "shipped")]
    if home is not None:
        dirs.append((Path(home) / "kernels", "user"))
    return dirs


def discover(dirs: list[tuple[Path, str]]) -> LoadReport:
    """Load every kernel module of the given folders; later folders override earlier names."""
    report = LoadReport()
    for folder, origin in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            try:
                specs = load_module_file(path, origin)
            except KernelError as exc:
                report.errors.append(exc)
                continue
            for spec in specs:
                report.kernels[spec.name] = spec
    return report


def discover_for_home(home: Path | None) -> LoadReport:
    return discover(kernel_dirs(home))


def find(name: str, home: Path | None = None, report: LoadReport | None = None) -> KernelSpec:
    report = report or discover_for_home(home)
    if name not in report.kernels:
        known = ", ".join(sorted(report.kernels)) or "none"
        raise NotFoundError(f"no kernel named {name!r} (available: {known})")
    return report.kernels[name]


NEW_KERNEL_TEMPLATE = '''"""My kernel: edit me, press Run (Ctrl+Enter), then Save as."""

from __future__ import annotations

import torch

from studio.kernels import Image, Range, kernel


@kernel(output="image", title="{title}")
def {name}(grid, *, frequency: Range(1.0, 40.0) = 8.0, phase: Range(0.0, 6.283) = 0.0) -> Image:
    """Interference rings: a starting point for your own image kernel."""
    x, y = grid.pixel_centers((0.0, 0.0), 1.0)
    r = torch.sqrt(x * x + y * y)
    red = 0.5 + 0.5 * torch.sin(frequency * r + phase)
    green = 0.5 + 0.5 * torch.sin(frequency * x + phase)
    blue = 0.5 + 0.5 * torch.cos(frequency * y - phase)
    return Image(torch.stack([red, green, blue], dim=-1))
'''


def new_kernel_source(name: str) -> str:
    if not name.isidentifier():
        raise InvalidInputError(f"{name!r} is not a valid kernel name (letters, digits, _; not starting with a digit)")
    return NEW_KERNEL_TEMPLATE.format(name=name, title=name.replace("_", " ").capitalize())


def save_user_kernel(home: Path, file_stem: str, source: str) -> Path:
    """Write source into <home>/kernels/<file_stem>.py after checking that it compiles."""
    if not file_stem.isidentifier():
        raise InvalidInputError(f"{file_stem!r} is not a valid file name (letters, digits, _)")
    folder = Path(home) / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{file_stem}.py"
    try:
        compile(source, str(target), "exec")
    except SyntaxError as exc:
        raise error_from_exception(exc, target) from None
    tmp = target.with_suffix(".py.tmp")
    tmp.write_text(source, encoding="utf-8")
    tmp.replace(target)
    return target
