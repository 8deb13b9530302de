"""The training worker as a QProcess: JSON lines in, control lines out.

The worker (`studio worker train --run ID`) prints one JSON object per line on stdout and reads
"stop" / "pause" / "resume" lines on stdin. This wrapper parses whatever arrived on each
readyReadStandardOutput into dicts and hands them over as ONE list per read (``events``), so a
worker printing hundreds of lines a second costs the GUI one signal per pipe read, not one per
line. Nothing here draws; views connect to ``events``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from studio.core.paths import worker_command
from studio.train.events import Finished, from_dict
from studio.train.protocol import JsonLinesParser  # the one parser `studio train` uses too (bounded lines)

__all__ = ["JsonLinesParser", "RunProcess", "worker_train_argv"]

STDERR_TAIL_LINES = 40
STDERR_LINE_BYTES = 64 * 1024  # the longest stderr line kept for the error summary


def worker_train_argv(home: str | Path, run_id: int, resume: bool = False) -> list[str]:
    """The argv that starts the training worker for ``run_id`` (correct in a frozen app too)."""
    argv = [*worker_command(), "--home", str(home), "worker", "train", "--run", str(run_id)]
    return [*argv, "--resume"] if resume else argv


class _DetachableProcess(QProcess):
    def forget(self) -> None:
        # QProcess kills its child when destroyed; marking it not-running first lets a worker
        # outlive the window ("keep it running in the background"). setProcessState is protected,
        # so it is reachable only from a subclass.
        self.setProcessState(QProcess.ProcessState.NotRunning)


class RunProcess(QObject):
    """One worker process and its event stream.

    Signals:
      events(list)          parsed JSON objects, in order, one list per pipe read
      finished(int, str)    exit code and a short reason ("" when it exited normally)
      stderr_line(str)      each line the worker wrote on stderr (warnings, tracebacks)
    """

    events = Signal(list)
    finished = Signal(int, str)
    stderr_line = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._proc: _DetachableProcess | None = None
        self._parser = JsonLinesParser()
        self._err_tail = b""
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.run_id: int | None = None
        self.last_done: Finished | None = None  # the worker's last event, read as studio.train.events

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        if self.is_running():
            raise RuntimeError("a worker is already running in this RunProcess")
        self._parser = JsonLinesParser()
        self._err_tail = b""
        self.stderr_tail.clear()
        self.last_done = None
        proc = _DetachableProcess(self)
        if env:
            penv = QProcessEnvironment.systemEnvironment()
            for key, value in env.items():
                penv.insert(key, value)
            proc.setProcessEnvironment(penv)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        self._proc = proc
        proc.start(argv[0], list(argv[1:]))

    def start_training(self, home: str | Path, run_id: int, resume: bool = False) -> None:
        """Train (or with ``resume`` continue from its last checkpoint) run ``run_id``."""
        self.run_id = int(run_id)
        # unbuffered stdout so lines arrive as they are printed, not in 8 KiB blocks
        self.start(worker_train_argv(home, run_id, resume), env={"PYTHONUNBUFFERED": "1"})

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int | None:
        if self._proc is None:
            return None
        pid = int(self._proc.processId())
        return pid or None

    # ---- control ---------------------------------------------------------------------------
    def send(self, line: str) -> bool:
        if not self.is_running():
            return False
        assert self._proc is not None
        self._proc.write((line.strip() + "\n").encode())
        return True

    def request_stop(self) -> bool:
        """Ask the worker to finish its step, checkpoint and mark the run stopped."""
        return self.send("stop")

    def pause(self) -> bool:
        return self.send("pause")

    def resume(self) -> bool:
        return self.send("resume")

    def terminate(self) -> None:
        """SIGTERM: the worker treats it like "stop"."""
        if self.is_running():
            assert self._proc is not None
            self._proc.terminate()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the worker exits (tests and shutdown only; never from a GUI handler)."""
        if self._proc is None:
            return True
        return self._proc.waitForFinished(msecs) or not self.is_running()

    def detach(self) -> None:
        """Let the worker keep running after this object (and the window) goes away.

        Its stdout/stdin pipes close with us; the worker keeps writing metrics and checkpoints to
        the library, where the Runs view finds them.
        """
        if self._proc is None:
            return
        proc = self._proc
        for signal in (proc.readyReadStandardOutput, proc.readyReadStandardError, proc.finished,
                       proc.errorOccurred):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        proc.forget()
        self._proc = None

    # ---- pipe handlers ---------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self._proc is not None
        chunk = bytes(self._proc.readAllStandardOutput().data())
        events = self._parser.feed(chunk)
        if events:
            self._note_done(events)
            self.events.emit(events)

    def _read_stderr(self) -> None:
        assert self._proc is not None
        data = self._err_tail + bytes(self._proc.readAllStandardError().data())
        lines = data.split(b"\n")
        self._err_tail = lines.pop()[-STDERR_LINE_BYTES:]  # an endless stderr line keeps only its end
        for raw in lines:
            text = raw.decode(errors="replace").rstrip()
            if text:
                self.stderr_tail.append(text)
                self.stderr_line.emit(text)

    def _note_done(self, events: list[dict]) -> None:
        for event in map(from_dict, events):
            if isinstance(event, Finished):
                self.last_done = event

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self._proc is not None:
            self._read_stdout()
            self._read_stderr()
        rest = self._parser.flush()
        if rest:
            self._note_done(rest)
            self.events.emit(rest)
        reason = ""
        if exit_status == QProcess.ExitStatus.CrashExit:
            reason = "the training process crashed"
        elif exit_code != 0:
            reason = self.error_summary() or f"the training process exited with code {exit_code}"
        self.finished.emit(int(exit_code), reason)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.finished.emit(-1, "could not start the training process")

    def error_summary(self) -> str:
        """The worker's one-line error (``studio: error: ...``) or its last stderr line."""
        for line in reversed(self.stderr_tail):
            if line.startswith("studio: error:"):
                return line.removeprefix("studio: error:").strip()
        return self.stderr_tail[-1] if self.stderr_tail else ""
