"""What every part of a training run shares: the library, the run, the job, and this process's place
among the data-parallel ranks. Under DDP only rank 0 speaks (events) and writes (the run row)."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from sqlalchemy import update

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.store.models import Run
from studio.train.artifacts import run_dir
from studio.train.events import WorkerEvent

if TYPE_CHECKING:
    from studio.store.library import Library

Emit = Callable[[dict[str, Any]], None]
SMALL_STEP_WORK = 64 * 1024  # batch rows x widest layer below which a CPU step runs on one thread


def resolve_device(name: str) -> torch.device:
    """The torch device for a --device value (auto: CUDA, else MPS, else CPU); a clear error for one
    this machine does not have."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidInputError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidInputError("CUDA is not available on this machine: use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InvalidInputError(f"there is no {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InvalidInputError("MPS is not available on this machine: use --device cpu (or auto)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InvalidInputError(f"unsupported device {name!r} (use auto, cpu, cuda, cuda:N or mps)")
    return device



@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0")))

    def place(self, device: torch.device) -> torch.device:
        """Each rank on its own GPU."""
        if self.world > 1 and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def any_rank(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when ``flag`` is true on any (so all ranks act after the same step)."""
        if self.world == 1:
            return flag
        shared = torch.tensor([1.0 if flag else 0.0], device=device)
        torch.distributed.all_reduce(shared, op=torch.distributed.ReduceOp.MAX)
        return bool(shared.item())

    def from_main(self, values: list[float], device: torch.device) -> list[float]:
        """Rank 0's ``values`` on every rank (so every rank decides the same, e.g. early stopping)."""
        if self.world == 1:
            return values
        shared = torch.tensor(values, dtype=torch.float64, device=device)
        torch.distributed.broadcast(shared, src=0)
        return shared.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def device_text(device: torch.device, dist: Distributed) -> str:
    """The device in words, for the run row and the start event."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})" + (f" x{dist.world}" if dist.world > 1 else "")
    text = f"{device.type} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    return text + (f" x{dist.world} processes" if dist.world > 1 else "")


class RunContext:
    def __init__(self, lib: Library, run_id: int, job: JobState, emit: Emit, dist: Distributed):
        self.lib, self.run_id, self.job, self.dist = lib, int(run_id), job, dist
        self._emit = emit
        self.folder: Path = run_dir(lib, self.run_id)

    def emit(self, event: WorkerEvent) -> None:
        if self.dist.is_main:
            self._emit(event.to_dict())

    def update_run(self, **values: Any) -> None:
        if self.dist.is_main:
            with self.lib.transaction() as s:
                s.execute(update(Run).where(Run.id == self.run_id).values(**values))

    def run_classes(self) -> list[str]:
        with self.lib.session() as s:
            return list(s.get(Run, self.run_id).classes)


@contextlib.contextmanager
def threads_for(device: torch.device, work_per_layer: int):
    """One CPU thread for small steps: splitting a 64 x 128 product across cores costs more in
    hand-offs than it saves, and much more when other processes share the cores."""
    before = torch.get_num_threads()
    if device.type == "cpu" and work_per_layer < SMALL_STEP_WORK:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
