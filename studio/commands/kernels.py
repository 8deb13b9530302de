"""`studio kernels list | run | bench`: the kernel lab from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.commands.common import add_json_flag, emit_json
from studio.core.errors import InvalidInputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("kernels", help="list and run compute kernels (fractals, point clouds, filters)")
    ksub = parser.add_subparsers(dest="kernels_command", metavar="ACTION", required=True)

    p_list = ksub.add_parser("list", help="kernels shipped and in <home>/kernels")
    add_json_flag(p_list)
    p_list.set_defaults(func=cmd_list)

    p_run = ksub.add_parser("run", help="run one kernel and save or describe its output")
    _add_run_arguments(p_run)
    p_run.add_argument("-o", "--output", metavar="FILE", help="save the output: .png, .npy or .ply")
    p_run.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p_run.add_argument("--follow-symlinks", action="store_true", help="write where FILE points if it is a symbolic link")
    p_run.set_defaults(func=cmd_run)

    p_bench = ksub.add_parser("bench", help="time a kernel on each device and against its NumPy reference")
    _add_run_arguments(p_bench)
    p_bench.add_argument("--repeats", type=int, default=3)
    p_bench.set_defaults(func=cmd_bench)


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="kernel name (see `studio kernels list`)")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", default=[], help="set a parameter")
    p.add_argument("--device", default="cpu", help="cpu | cuda | mps | auto")
    p.add_argument("--compile", action="store_true", help="run through torch.compile")
    p.add_argument("--size", metavar="WxH", help="output size, e.g. 1920x1080 (3D kernels: a resolution, e.g. 128)")
    p.add_argument("--input", action="append", metavar="[NAME=]IMAGE", default=[],
                   help="input picture file for image kernels (repeat for NAME=FILE per input)")
    add_json_flag(p)


def parse_size(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise InvalidInputError(f"size {text!r} must be WxH (e.g. 800x600) or one number") from None
    if len(values) not in (1, 2) or min(values) < 1:
        raise InvalidInputError(f"size {text!r} must be WxH (e.g. 800x600) or one number")
    return values


def parse_inputs(spec, items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    positional = iter(spec.inputs)
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name in spec.inputs:
            out[name] = path
        else:
            name = next(positional, None)
            if name is None:
                raise InvalidInputError(f"kernel {spec.name} takes {len(spec.inputs)} input image(s)")
            out[name] = item
    for name, path in out.items():
        if not Path(path).is_file():
            raise InvalidInputError(f"input image not found: {path}")
    return out


def _home(args) -> Path | None:
    from studio.core.paths import resolve_home

    return resolve_home(getattr(args, "home", None))


def cmd_list(args) -> int:
    from studio.kernels.registry import discover_for_home

    report = discover_for_home(_home(args))
    for spec in sorted(report.kernels.values(), key=lambda s: s.name):
        if args.json:
            emit_json({"name": spec.name, "title": spec.title, "output": spec.output, "origin": spec.origin,
                       "inputs": spec.inputs, "params": [p.name for p in spec.params], "path": str(spec.path)})
        else:
            print(f"{spec.name:<20} {spec.output:<7} {spec.origin:<8} {spec.title}")
    for err in report.errors:
        if args.json:
            emit_json({"error": str(err), "path": err.path, "line": err.line})
        else:
            print(f"(failed to load) {err}")
    return 0


def _resolve(args):
    from studio.kernels.params import parse_assignments
    from studio.kernels.registry import find

    spec = find(args.name, _home(args))
    return spec, parse_assignments(args.param), parse_inputs(spec, args.input), parse_size(args.size)


def cmd_run(args) -> int:
    from studio.kernels.outputs import save_result
    from studio.kernels.runtime import run_kernel

    spec, params, inputs, size = _resolve(args)
    target = _output_target(args) if args.output else None  # refused before minutes of compute, not after
    run = run_kernel(spec, params, device=args.device, compile=args.compile, size=size, inputs=inputs)
    saved = None
    if target is not None:
        from studio.export.targets import write_via_temp

        write_via_temp(target, lambda tmp: save_result(run.result, tmp))
        saved = target
    summary = run.summary() | {"output_file": str(saved) if saved else None}
    if args.json:
        emit_json(summary)
    else:
        shape = "x".join(str(s) for s in summary["shape"])
        comp = f", compile {summary['compile_ms']:.0f} ms" if summary["compile_ms"] is not None else ""
        print(f"{spec.name}: {spec.output} {shape} on {summary['device']} in {summary['run_ms']:.1f} ms{comp}")
        if run.note:
            print(f"note: {run.note}")
        if saved:
            print(f"saved {saved}")
    return 0


def _output_target(args) -> Path:
    """-o FILE checked like an export: no symlink, no existing file unless asked."""
    from studio.export.targets import check_target, output_path

    if Path(args.output).suffix.lower() not in (".png", ".npy", ".ply"):
        raise InvalidInputError(f"cannot save as {args.output}: use .png, .npy or .ply")
    path = output_path(args.output, follow_symlinks=args.follow_symlinks)
    path.parent.mkdir(parents=True, exist_ok=True)
    return check_target(path, force=args.force, follow_symlinks=args.follow_symlinks)


def cmd_bench(args) -> int:
    from studio.kernels.bench import benchmark_kernel

    spec, params, inputs, size = _resolve(args)
    devices = None if args.device in ("auto", None) else [args.device]
    rows = benchmark_kernel(spec, params, devices=devices, compile=args.compile, repeats=max(1, args.repeats),
                            size=size, inputs=inputs)
    for row in rows:
        if args.json:
            emit_json({"name": spec.name} | row.as_dict())
        else:
            comp = f" (first compiled call {row.compile_ms:.0f} ms)" if row.compile_ms else ""
            print(f"{row.target:<20} {row.run_ms:10.1f} ms  {row.throughput / 1e6:10.2f} M{row.unit}{comp}")
    return 0
