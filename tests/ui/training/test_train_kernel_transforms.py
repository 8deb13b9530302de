"""The Train page's "Kernel transforms" box: pick an image kernel, set it, see it on real samples,
and train with it (the run stores the kernel and its values)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from train_gui_helpers import make_digits_home

from studio.store.library import Library
from studio.store.models import Run

pytestmark = pytest.mark.gui
WAIT_MS = 120_000

USER_KERNEL = '''
from studio.kernels import Image, Range, kernel


@kernel(output="image", title="Invert")
def invert(grid, image, *, amount: Range(0.0, 1.0) = 1.0) -> Image:
    """Mixes each picture with its negative."""
    return Image(image + amount * (1.0 - 2.0 * image))
'''


def test_a_kernel_chosen_on_the_train_page_is_previewed_and_trained_with(qtbot, tmp_path, artifacts):
    from studio.ui.training.train_page import TrainPage

    home = make_digits_home(tmp_path / "library")
    (home / "kernels").mkdir()
    (home / "kernels" / "my_invert.py").write_text(USER_KERNEL)  # the user's own kernel folder
    lib = Library.open(home)
    page = TrainPage(lib)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    settings = page.settings
    box = settings.kernels
    qtbot.waitUntil(lambda: box.choice.count() > 0 and settings.dataset.count() == 1, timeout=WAIT_MS)
    offered = [box.choice.itemData(i) for i in range(box.choice.count())]
    assert "invert" in offered and "colour_blindness" in offered  # the user's and the shipped ones
    assert "mandelbrot" not in offered  # draws, takes no picture: not a transform
    qtbot.waitUntil(settings.preview.is_filled, timeout=WAIT_MS)

    box.choice.setCurrentIndex(box.choice.findData("invert"))
    qtbot.mouseClick(box.add_button, Qt.MouseButton.LeftButton)
    entry = box.entries[0]
    entry.params.widgets["amount"].box.setValue(0.75)  # as typed into the value box
    qtbot.waitUntil(box.preview.is_filled, timeout=WAIT_MS)
    assert box.preview.isVisible()
    # the previewed samples are the augmentation preview's, through the kernel: not the same pictures
    assert settings.preview.labels[0].pixmap().toImage() != box.preview.labels[0].pixmap().toImage()
    page.grab().save(str(artifacts / "train_page_kernel_transforms.png"))

    # a kernel saved meanwhile (e.g. in the kernel lab) is offered the next time the page is shown
    (home / "kernels" / "later.py").write_text(USER_KERNEL.replace("def invert(", "def invert_again("))
    page.on_shown()
    qtbot.waitUntil(lambda: box.choice.findData("invert_again") >= 0, timeout=WAIT_MS)
    assert [e.kernel.name for e in box.entries] == ["invert"]

    settings.model.setCurrentIndex(settings.model.findData("simple-cnn"))
    settings.image_size.setValue(8)
    settings.epochs.setValue(1)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.process is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not page.is_training(), timeout=WAIT_MS)
    with lib.session() as s:
        run = s.query(Run).order_by(Run.id.desc()).first()
        assert run.status == "completed", run.error
        assert run.spec["kernel_transforms"] == [{"kernel": "invert", "params": {"amount": 0.75}}]
    page.shutdown()
    lib.close()
