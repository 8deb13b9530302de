"""`studio worker train --run ID [--resume]`: the training worker process.

Started by `studio train`, `studio runs resume` and the GUI (QProcess). It owns the run row
(status, heartbeat, metrics, checkpoints), prints one JSON object per line on stdout, reads
"stop" / "pause" / "resume" lines on stdin, and treats SIGTERM like "stop": finish the step,
checkpoint, mark the run stopped. Under torchrun (WORLD_SIZE > 1) it joins the process group.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import timedelta

from studio.commands.common import emit_json, open_library
from studio.core.run_status import FINISHED, WORKER_ATTACHED, RunStatus
from studio.train.events import Paused, Resumed


def register(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="(internal) run a job in this process; used by the GUI and `studio train`")
    jobs = worker.add_subparsers(dest="worker_command", metavar="JOB", required=True)
    train = jobs.add_parser("train", help="train run ID, streaming JSON lines on stdout")
    # --run-id: under torchrun, whose parser would read "--run" as an abbreviation of its --run-path
    train.add_argument("--run", "--run-id", dest="run", required=True, type=int, help="run id (created by `studio train` or the GUI)")
    train.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    train.set_defaults(func=cmd_worker_train)


class _Controls:
    """Stop/pause requests from stdin and signals, applied to the job and the engine."""

    def __init__(self, lib, run_id: int):
        from studio.core.jobs import JobState

        self.lib, self.run_id = lib, run_id
        self.job = JobState()
        self.engine = None

    def attach(self, engine) -> None:
        self.engine = engine

    def stop(self) -> None:
        self.job.cancel()  # the trainer turns this into an engine stop after the current step
        if self.engine is not None:
            self.engine.resume()  # a paused worker must wake up to stop

    def pause(self, paused: bool) -> None:
        if self.engine is None:
            return
        if paused:
            self.engine.pause()
        else:
            self.engine.resume()
        self._set_status(RunStatus.PAUSED if paused else RunStatus.RUNNING)
        emit_json((Paused if paused else Resumed)(run_id=self.run_id).to_dict())

    def _set_status(self, status: RunStatus) -> None:
        from sqlalchemy import update

        from studio.store.models import Run

        with self.lib.transaction() as s:
            s.execute(update(Run).where(Run.id == self.run_id, Run.status.in_(WORKER_ATTACHED)).values(status=status))

    def read_stdin(self, read=None) -> None:
        """Apply control lines until stdin closes. Bytes, bounded lines, invalid UTF-8 replaced:
        no input can end this thread early, so a later "stop" is always heard."""
        from studio.train.protocol import read_control_lines

        if read is None:
            fd = sys.stdin.fileno()
            read = lambda n: os.read(fd, n)
        for command in read_control_lines(read):
            try:
                self.apply(command)
            except Exception as exc:  # e.g. the library briefly locked: report, keep listening
                print(f"studio worker: control {command!r} failed: {exc}", file=sys.stderr, flush=True)

    def apply(self, command: str) -> None:
        if command == "stop":
            self.stop()
        elif command == "pause":
            self.pause(True)
        elif command == "resume":
            self.pause(False)
        elif command:
            print(f"studio worker: unknown control {command[:40]!r} ignored (use stop, pause or resume)",
                  file=sys.stderr, flush=True)


def cmd_worker_train(args: argparse.Namespace) -> int:
    from studio.train.runner import run_training

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        _init_process_group()
    lib = open_library(args)
    controls = _Controls(lib, args.run)
    signal.signal(signal.SIGTERM, lambda *_: controls.stop())
    if int(os.environ.get("RANK", "0")) == 0 and sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=controls.read_stdin, name="stdin-controls", daemon=True).start()
    result: dict = {}
    try:
        result = run_training(lib, args.run, controls.job, emit=emit_json, resume=args.resume, control=controls.attach)
    finally:
        if distributed:
            _leave_process_group(together=bool(result))
        lib.close()
    return 0 if result.get("status") in FINISHED else 1


def _leave_process_group(together: bool) -> None:
    """Tear the group down on every rank at the same point: a rank that destroys its group while
    another still talks to it (rank 0 saving the model) can abort in Gloo's threads at exit."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    if together:  # this rank finished normally; a rank that failed never arrives, hence the timeout
        try:
            if dist.get_backend() == "gloo":
                dist.monitored_barrier(timeout=timedelta(seconds=120))
            else:
                dist.barrier()
        except RuntimeError as exc:
            print(f"studio worker: the other ranks did not finish with this one: {exc}", file=sys.stderr, flush=True)
    dist.destroy_process_group()


def _init_process_group() -> None:
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
