"""Editing kernel source on the kernel lab page: run the editor's text as the kernel's module,
revert it, save it into the user's kernel folder, start a new kernel from the template.

A mixin of ``KernelsPage``: it uses the page's ``current``, ``kernels``, ``sources``, ``values``,
``editor``, ``params``, ``kernel_list``, ``home`` and its ``_show_error``/``_show_kernel``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QInputDialog

from studio.core.errors import StudioError
from studio.kernels.registry import (
    KernelError,
    KernelSpec,
    load_module_source,
    new_kernel_source,
    save_user_kernel,
)


class SourceEditing:
    def run_source(self) -> None:
        """Load the editor's text as the current kernel's module and run it (errors point to a line)."""
        if self.current is None:
            return
        path = self.current.path
        source = self.editor.toPlainText()
        self.sources[str(path)] = source
        try:
            _, specs = load_module_source(source, path, self.current.origin if self.current.origin != "shipped" else "edited")
        except KernelError as exc:
            self._show_error(str(exc), exc.line)
            self.status_label.setText("failed")
            self.failed.emit(str(exc))
            return
        if not specs:
            self._show_error("this module has no function marked @kernel")
            return
        for spec in specs:
            spec.origin = self.kernels.get(spec.name, spec).origin
            self.kernels[spec.name] = spec
        chosen = next((s for s in specs if s.name == self.current.name), specs[0])
        self._activate_edited(chosen)

    def _activate_edited(self, spec: KernelSpec) -> None:
        # keep values the user moved; a control still at its old default follows an edited default
        old_defaults = self.current.default_params() if self.current else {}
        kept = {k: v for k, v in self.values.items() if k in spec.default_params() and old_defaults.get(k) != v}
        self.current = spec
        self.values = spec.default_params() | kept
        self.params.build(spec.params, self.values)
        self._show_error(None)
        self._show_kernel(spec)

    def revert_source(self) -> None:
        if self.current is None:
            return
        self.sources.pop(str(self.current.path), None)
        self.reload_kernels(self.current.name)

    def save_source_as(self, file_stem: str) -> Path:
        """Save the editor's text into <home>/kernels/<file_stem>.py and select it."""
        if self.home is None:
            raise StudioError("no library is open, so there is no user kernel folder")
        target = save_user_kernel(self.home, file_stem, self.editor.toPlainText())
        self.sources.pop(str(target), None)
        name = self.current.name if self.current else None
        self.reload_kernels()
        user = [s for s in self.kernels.values() if s.path == target]
        if user:
            self.select_kernel(next((s.name for s in user if s.name == name), user[0].name))
        return target

    def save_as_dialog(self) -> None:
        default = self.current.path.stem if self.current else "my_kernel"
        if self.current and self.current.origin == "shipped":
            default = f"my_{default}"
        stem, ok = QInputDialog.getText(self, "Save kernel as", "File name in your kernel folder (without .py):", text=default)
        if not ok or not stem.strip():
            return
        try:
            target = self.save_source_as(stem.strip())
        except KernelError as exc:
            self._show_error(str(exc), exc.line)
            return
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.status_label.setText(f"saved {target}")

    def new_kernel(self, name: str) -> None:
        """Put a template kernel in the editor (not saved yet) and run it."""
        if self.home is None:
            raise StudioError("no library is open, so there is no user kernel folder")
        source = new_kernel_source(name)
        path = self.home / "kernels" / f"{name}.py"
        _, specs = load_module_source(source, path, "user")
        spec = specs[0]
        self.kernels[spec.name] = spec
        self.sources[str(path)] = source
        self.kernel_list.add_unsaved(spec)

    def new_kernel_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "New kernel", "Kernel name (letters, digits, _):", text="my_kernel")
        if not ok or not name.strip():
            return
        try:
            self.new_kernel(name.strip())
        except StudioError as exc:
            self._show_error(str(exc))

