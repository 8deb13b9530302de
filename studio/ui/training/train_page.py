"""The Train page: settings on the left, the live view of the running worker on the right.

Pressing Train: (ImageNet weights checked/downloaded in a job, with progress and cancel) ->
``create_run`` in a job -> the worker process ``studio worker train --run ID`` via RunProcess,
whose JSON lines feed the LiveTrainingView. Nothing heavy runs on the GUI thread: even the model
list is loaded in a job because it imports torch. The form lives in train_settings.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import InvalidInputError
from studio.core.run_status import RunStatus
from studio.train.spec import IMAGE, PHOTO_MODEL, TEXT, ImageNet, Scratch, TrainSpec
from studio.ui.common.page import Page
from studio.ui.common.run_process import RunProcess
from studio.ui.training.jobs import (
    TrainChoices,
    augment_preview,
    create_run_job,
    ensure_imagenet_weights,
    load_train_choices,
)
from studio.ui.training.kernel_transforms import kernel_preview, load_transform_kernels
from studio.ui.training.live_view import LiveTrainingView
from studio.ui.training.train_settings import TrainSettings

if TYPE_CHECKING:
    from studio.store.library import Library



class TrainPage(Page):
    """Settings + Train button + the live view. Emits ``run_started`` / ``run_finished``."""

    run_started = Signal(int)
    run_finished = Signal(int, str)

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lib = library
        self.process: RunProcess | None = None
        self._preview_seed = 0
        self._preview_images: list = []  # the augmentation preview, which the kernel preview filters
        self._pending_start: tuple[int, dict] | None = None
        self._preferred_dataset: int | None = None  # the one open on the Datasets page
        self._build()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)  # coalesce quick toggles into one preview job
        self._preview_timer.timeout.connect(self._refresh_preview)
        self.settings.preview_wanted.connect(self._preview_timer.start)
        self.settings.preview_again.clicked.connect(self._next_preview_seed)
        self._kernel_timer = QTimer(self)
        self._kernel_timer.setSingleShot(True)
        self._kernel_timer.setInterval(150)  # a dragged slider: one preview when it rests
        self._kernel_timer.timeout.connect(self._refresh_kernel_preview)
        self.settings.kernels.changed.connect(self._kernel_timer.start)

    def run_job(self, key: str, fn, *args, **kwargs):
        """Page.run_job, with the job a child of this page: a preview that ends after the page was
        deleted (kept training in the background, then closed) goes with it, unseen."""
        job = super().run_job(key, fn, *args, **kwargs)
        job.setParent(self)
        return job

    def on_first_show(self) -> None:
        """Choices and kernels load when the page is first shown: they import torch (seconds)."""
        self.reload_choices()
        self.reload_kernels()

    def _build(self) -> None:
        root = QHBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        heading = QLabel("Train a model")
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        left_layout.addWidget(heading)
        self.settings = TrainSettings()
        for combo in self.settings.findChildren(QComboBox):
            # long choices ("Automatic (ImageNet for photo models ...)") must not widen the form past
            # its column: the box shows what fits, the open list shows it whole
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.settings)
        left_layout.addWidget(scroll, 1)
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Start training with these settings in a separate process. "
                                     "The defaults work; you can stop at any time.")
        self.train_button.setMinimumHeight(36)
        self.train_button.setStyleSheet("font-size: 11pt; font-weight: 600;")
        self.train_button.clicked.connect(self.start_training)
        left_layout.addWidget(self.train_button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        left_layout.addWidget(self.status)
        left.setMinimumWidth(360)

        self.live = LiveTrainingView()
        self.live.run_finished.connect(self._on_run_finished)
        box = QGroupBox("Live training")
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(self.live)
        split.addWidget(left)
        split.addWidget(box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 750])
        root.addWidget(split)

    # ---- page hooks ------------------------------------------------------------------------
    def on_shown(self) -> None:
        if not self.is_training():
            self.reload_choices()
        self.reload_kernels()  # a kernel saved in the kernel lab meanwhile is offered

    def reload_choices(self) -> None:
        if self.job("choices") is not None:
            return
        job = self.run_job("choices", load_train_choices, self.lib)
        job.finished.connect(self.settings.set_choices)
        job.finished.connect(self._choices_loaded)
        job.failed.connect(lambda msg: self._set_status(f"Could not list models: {msg}", error=True))

    def reload_kernels(self) -> None:
        """The image kernels of the shipped and the user's kernel folders, for the kernel box."""
        if self.job("kernels") is not None:
            return
        job = self.run_job("kernels", load_transform_kernels, self.lib.home)
        job.finished.connect(self.settings.kernels.set_kernels)
        job.failed.connect(lambda msg: self.settings.kernels.show_error(f"Could not load kernels: {msg}"))

    def prefer_dataset(self, dataset_id: int | None) -> None:
        """Select the dataset the user has open on the Datasets page (now, or when the list loads)."""
        self._preferred_dataset = dataset_id
        if dataset_id is not None and not self.is_training():
            self.settings.select_dataset(dataset_id)

    def _choices_loaded(self, choices: TrainChoices) -> None:
        if not choices.datasets:
            self._set_status("No dataset yet: import one on the Datasets page first.", error=True)
        if self._preferred_dataset is not None and not self.is_training():
            self.settings.select_dataset(self._preferred_dataset)
        if self._pending_start is not None:
            kind, value = self._pending_start
            if kind == "run" and choices.dataset_kinds.get(value.get("dataset_id")) == TEXT:
                self._start_text_run_from(value["run_id"], value["dataset_id"])
            elif kind == "run":
                if not self.settings.start_from_run(value["run_id"]):
                    value["tries"] = value.get("tries", 0) + 1
                    if value["tries"] <= 2:  # a list loaded before that run finished: once more
                        QTimer.singleShot(300, self.reload_choices)
                        return
                    self._set_status(f"Run {value['run_id']} has no trained model to start from.", error=True)
                elif value.get("dataset_id") is not None:
                    self.settings.select_dataset(value["dataset_id"])
            self._pending_start = None

    def _start_text_run_from(self, run_id: int, dataset_id: int) -> None:
        """A text run's folder is a Hugging Face folder: it becomes the encoder, and for the same
        classes its classifier goes on learning (studio.train.text.model)."""
        from studio.train.run_files import run_dir

        self.settings.select_dataset(dataset_id)
        self.settings.encoder.setText(str(run_dir(self.lib, run_id)))
        self._set_status(f"Starting from run {run_id}: its fine-tuned encoder (and its classifier, for the same classes).")

    def fine_tune_from(self, run_id: int, dataset_id: int | None = None) -> None:
        """Preset starting weights = ``run_id`` (called by the Runs and Evaluate views)."""
        if dataset_id is None:  # one indexed row: its kind says how to start from it
            from studio.train.runs import run_dataset

            with self.lib.session() as s:
                found = run_dataset(s, run_id)
            dataset_id = found[0] if found is not None else None
        self._pending_start = ("run", {"run_id": int(run_id), "dataset_id": dataset_id})
        self.reload_choices()  # the run list may be stale; applied when it arrives

    # ---- augment preview -------------------------------------------------------------------
    def _next_preview_seed(self) -> None:
        self._preview_seed += 1

    def _refresh_preview(self) -> None:
        dataset_id = self.settings.dataset_id()
        if dataset_id is None or self.settings.dataset_kind() != IMAGE:
            return  # a table has no images to preview (its form hides the preview)
        job = self.run_job("preview", augment_preview, self.lib, dataset_id, self.settings.augmentations(),
                           self.settings.preview_size(), len(self.settings.preview_labels), self._preview_seed)
        job.finished.connect(lambda images, j=job: self._show_preview(j, images))
        job.failed.connect(lambda msg: self.settings.preview_again.setToolTip(f"Preview failed: {msg}"))

    def _show_preview(self, job, images: list) -> None:
        if self.job("preview") is not job:
            return  # a newer preview is on its way
        self.settings.preview.show_images(images)
        self._preview_images = images
        self._refresh_kernel_preview()

    def _refresh_kernel_preview(self) -> None:
        """The augmentation preview's images through the chosen kernels, off the GUI thread."""
        specs = [t.to_dict() for t in self.settings.kernels.transforms()]
        if not specs or not self._preview_images:
            self.cancel_job("kernel_preview")
            return
        job = self.run_job("kernel_preview", kernel_preview, self._preview_images, specs, self.lib.home)
        job.finished.connect(lambda images, j=job: self.job("kernel_preview") is j
                             and self.settings.kernels.show_preview(images))
        job.failed.connect(lambda msg: self.settings.kernels.show_error(f"Kernel preview failed: {msg}"))

    # ---- training --------------------------------------------------------------------------
    def is_training(self) -> bool:
        return self.process is not None and self.process.is_running()

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "color: #333;")
        self.status.setText(text)

    def start_training(self) -> None:
        if self.is_training() or self.job("create") is not None or self.job("weights") is not None:
            return
        dataset_id = self.settings.dataset_id()
        if dataset_id is None:
            self._set_status("Choose a dataset first (import one on the Datasets page).", error=True)
            return
        try:
            spec = self.settings.train_spec()
        except InvalidInputError as exc:
            self._set_status(str(exc), error=True)
            return
        self.train_button.setEnabled(False)
        if isinstance(spec.pretrained, ImageNet):
            self._ensure_weights(dataset_id, spec)
        else:
            self._create_run(dataset_id, spec)

    def _ensure_weights(self, dataset_id: int, spec: TrainSpec) -> None:
        model = spec.model or PHOTO_MODEL
        spec = spec.replace(model=model)
        self._set_status(f"Checking ImageNet weights for {model}…")
        job = self.run_job("weights", ensure_imagenet_weights, model)
        dialog = QProgressDialog(f"Downloading ImageNet weights for {model}…", "Cancel", 0, 1000, self)
        dialog.setWindowTitle("Pretrained weights")
        dialog.setMinimumDuration(400)  # a file already there never shows the dialog
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        self.download_dialog = dialog
        dialog.canceled.connect(job.cancel)
        job.progress.connect(lambda f, msg: (dialog.setValue(int(f * 1000)), dialog.setLabelText(
            f"Downloading ImageNet weights for {model}: {msg}")))

        def finish() -> None:
            dialog.canceled.disconnect()
            dialog.cancel()  # also stops its show-after-400-ms timer (close() alone does not)
            dialog.deleteLater()

        job.done.connect(finish)
        job.finished.connect(lambda _path: self._create_run(dataset_id, spec))
        job.cancelled.connect(lambda: self._abort("Download cancelled; nothing was trained."))
        job.failed.connect(lambda msg: self._weights_missing(dataset_id, spec, msg))

    def _weights_missing(self, dataset_id: int, spec: TrainSpec, message: str) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("ImageNet weights not available")
        box.setText(message)
        scratch = box.addButton("Train from scratch", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        self.weights_box = box
        box.finished.connect(lambda _r: self._after_weights_box(box, scratch, dataset_id, spec))
        box.open()

    def _after_weights_box(self, box: QMessageBox, scratch, dataset_id: int, spec: TrainSpec) -> None:
        if box.clickedButton() is scratch:
            self.settings.start_from(Scratch())
            self._create_run(dataset_id, spec.replace(pretrained=Scratch()))
        else:
            self._abort("Not started: the ImageNet weights are missing.")

    def _create_run(self, dataset_id: int, spec: TrainSpec) -> None:
        self._set_status("Preparing the run…")
        job = self.run_job("create", create_run_job, self.lib, dataset_id, spec)
        job.finished.connect(self.start_worker)
        job.failed.connect(lambda msg: self._abort(msg))

    def _abort(self, message: str) -> None:
        self._set_status(message, error=True)
        self.train_button.setEnabled(True)

    def start_worker(self, run_id: int, resume: bool = False) -> RunProcess:
        """Start (or resume) run ``run_id`` in its worker process and follow it live."""
        if self.process is not None and not self.process.is_running():
            self.process.deleteLater()  # the previous, finished run's process object
        proc = RunProcess(self)
        self.process = proc
        proc.stderr_line.connect(self._on_stderr)
        self.live.attach(proc, f"Run {run_id}: starting…")
        if resume:  # draw what the run recorded before, then let the worker continue the curves
            from studio.train.history import run_history

            job = self.run_job("history", run_history, self.lib, int(run_id))
            job.finished.connect(self.live.show_history)
            job.done.connect(lambda: proc.start_training(self.lib.home, int(run_id), resume=True))
        else:
            proc.start_training(self.lib.home, int(run_id), resume=False)
        self.train_button.setEnabled(False)
        self._set_status(f"Run {run_id} {'resumed' if resume else 'started'}.")
        self.run_started.emit(int(run_id))
        return proc

    def _on_stderr(self, line: str) -> None:
        if line.startswith("studio: error:"):
            self._set_status(line.removeprefix("studio: error:").strip(), error=True)

    def _on_run_finished(self, run_id: int, status: str) -> None:
        self.train_button.setEnabled(True)
        m = self.live.model
        if status == RunStatus.FAILED:
            self._set_status(f"Run {run_id} failed: {m.message or 'see the Runs view'}", error=True)
        else:
            self._set_status(f"Run {run_id} {status}.")
        self.run_finished.emit(run_id, status)
        self.reload_choices()

    # ---- closing ---------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Asked before the window closes. False = the user cancelled closing."""
        if not self.is_training():
            return True
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        box.setText("A training run is still going. Stop it, or keep it running in the background?")
        box.setInformativeText("A background run keeps saving its progress; the Runs view shows it "
                               "next time.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            self.stop_and_wait()
            return True
        if clicked is keep:
            self.keep_in_background()
            return True
        return False

    def stop_and_wait(self, msecs: int = 20000) -> None:
        if self.process is not None and self.process.is_running():
            self.process.request_stop()
            if not self.process.wait(msecs):
                self.process.terminate()
                self.process.wait(5000)

    def keep_in_background(self) -> None:
        if self.process is not None:
            self.live.detach()
            self.process.detach()
            self.process = None

    def shutdown(self) -> None:
        """The window is closing. A run still attached here (the user was not asked, or chose
        Stop) is stopped cleanly: destroying the QProcess would otherwise kill it mid-step."""
        self.stop_and_wait()
        super().shutdown()
        for plot in (self.live.loss_plot, self.live.acc_plot, self.live.lr_plot):
            plot.stop_updates()
