"""`studio weights list|import`: which ImageNet weights this machine has, and bringing them in
from a file (offline machines: torchvision cannot download them there).

    studio weights list [--json]
    studio weights import FILE --model NAME [--json]

An imported file is read safely (safetensors, or torch.load with weights_only: never unpickled
code) and checked tensor by tensor against the model; runs with the automatic start then begin
from it.
"""

from __future__ import annotations

import argparse

from studio.commands.common import add_json_flag, emit_json
from studio.core.text import say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="ImageNet weights on this machine; import them from a file",
                       description=__doc__.splitlines()[0])
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    lp = wsub.add_parser("list", help="for each torchvision model: are its ImageNet weights here, and where")
    add_json_flag(lp)
    lp.set_defaults(func=cmd_weights_list)
    ip = wsub.add_parser("import", help="use a local weights file as a model's ImageNet start")
    ip.add_argument("file", help="a state dict: .safetensors, or a .pt/.pth read with weights_only")
    ip.add_argument("--model", required=True, help="the torchvision model it is for (see `studio models list`)")
    add_json_flag(ip)
    ip.set_defaults(func=cmd_weights_import)


def cmd_weights_list(args: argparse.Namespace) -> int:
    from studio.train import zoo

    for entry in zoo.list_models():
        if not entry.pretrained_available:
            continue
        path = zoo.local_imagenet_weights(entry.name)
        if args.json:
            emit_json({"model": entry.name, "imagenet_weights": None if path is None else str(path)})
        else:
            where = str(path) if path else "not here (downloaded on first use when online)"
            say(f"{entry.name:20s} {where}")
    return 0


def cmd_weights_import(args: argparse.Namespace) -> int:
    from studio.train.weights_import import import_imagenet_weights

    done = import_imagenet_weights(args.file, args.model)
    if args.json:
        emit_json({"model": done.model, "path": str(done.path), "tensors": done.tensors, "renamed": done.renamed})
    else:
        how = " (tensor names differ from torchvision's: matched by order and shape)" if done.renamed else ""
        say(f"imported {done.tensors} tensors for {done.model}{how} -> {done.path}\n"
            f"runs of {done.model} now start from these ImageNet weights (--pretrained auto or imagenet)")
    return 0
