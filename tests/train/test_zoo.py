"""Model zoo: every architecture builds for grey and RGB; ImageNet weights offline and from a local
file; weights of the wrong architecture are refused with one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.core.errors import InvalidInputError, NotFoundError
from studio.train.artifacts import load_model_files
from studio.train.card import ModelCard
from studio.train.zoo import build_model, freeze_backbone, imagenet_weights_url, list_models, load_backbone_weights


def test_list_models_names_sizes_and_pretrained_flags():
    entries = {e.name: e for e in list_models()}
    assert set(entries) == {"simple-cnn", "mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "resnet18", "resnet50",
                            "efficientnet_b0", "convnext_tiny"}
    assert not entries["simple-cnn"].pretrained_available and entries["resnet18"].pretrained_available
    assert all(e.default_image_size > 0 and e.description for e in entries.values())


@pytest.mark.parametrize("name", ["simple-cnn", "mobilenet_v3_small", "resnet18", "efficientnet_b0"])
@pytest.mark.parametrize("channels", [1, 3])
def test_models_give_logits_for_any_size_and_channels(name, channels):
    model = build_model(name, 4, in_channels=channels).eval()
    for size in (8, 32) if name == "simple-cnn" else (32,):
        with torch.no_grad():
            out = model(torch.randn(2, channels, size, size))
        assert out.shape == (2, 4)


def test_unknown_model_and_bad_channels():
    with pytest.raises(NotFoundError, match="unknown model 'vgg99'"):
        build_model("vgg99", 3)
    with pytest.raises(InvalidInputError, match="in_channels must be 1 or 3"):
        build_model("simple-cnn", 3, in_channels=4)


def _hub_file(tmp_path: Path, monkeypatch, name: str) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints" / Path(imagenet_weights_url(name)).name


def test_imagenet_offline_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    expected = _hub_file(tmp_path, monkeypatch, "resnet18")
    with pytest.raises(InvalidInputError) as err:
        build_model("resnet18", 3, weights="imagenet")
    message = str(err.value)
    assert "resnet18-f37072fd.pth" in message and str(expected.parent) in message and "--pretrained PATH" in message


def test_imagenet_weights_load_from_torch_hub_dir(tmp_path, monkeypatch):
    """A real torchvision-format file (random init, NOT ImageNet-trained) placed where torchvision
    expects the download: build_model reads it instead of downloading."""
    import torchvision

    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    target = _hub_file(tmp_path, monkeypatch, "mobilenet_v3_small")
    target.parent.mkdir(parents=True)
    torch.manual_seed(1)
    reference = torchvision.models.mobilenet_v3_small()
    torch.save(reference.state_dict(), target)
    model = build_model("mobilenet_v3_small", 5, weights="imagenet")
    first_conv = "features.0.0.weight"
    assert torch.equal(model.net.state_dict()[first_conv], reference.state_dict()[first_conv])
    assert model.net.classifier[3].out_features == 5  # a new head


def test_local_file_of_another_architecture_is_refused(tmp_path):
    import torchvision

    path = tmp_path / "resnet.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(InvalidInputError, match="weights do not fit mobilenet_v3_small"):
        build_model("mobilenet_v3_small", 3, weights=path)
    with pytest.raises(NotFoundError, match="weights file not found"):
        build_model("resnet18", 3, weights=tmp_path / "missing.pth")


def test_pickled_code_is_never_loaded(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(InvalidInputError, match="cannot read weights"):
        build_model("resnet18", 3, weights=path)


def test_freeze_backbone_leaves_only_the_head_trainable():
    model = build_model("resnet18", 3)
    freeze_backbone(model, "resnet18")
    trainable = [k for k, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["net.fc.weight", "net.fc.bias"]
    freeze_backbone(model, "resnet18", frozen=False)
    assert all(p.requires_grad for p in model.parameters())


def test_backbone_weights_load_and_head_is_replaced_for_new_classes():
    torch.manual_seed(0)
    old = build_model("simple-cnn", 5, in_channels=1)
    new = build_model("simple-cnn", 3, in_channels=1)
    assert load_backbone_weights(new, "simple-cnn", old.state_dict()) is True
    assert torch.equal(new.features[0][0].weight, old.features[0][0].weight)
    same = build_model("simple-cnn", 5, in_channels=1)
    assert load_backbone_weights(same, "simple-cnn", old.state_dict()) is False
    assert torch.equal(same.head.weight, old.head.weight)
    rgb = build_model("simple-cnn", 5, in_channels=3)
    with pytest.raises(InvalidInputError, match="weights do not fit simple-cnn"):
        load_backbone_weights(rgb, "simple-cnn", old.state_dict())


def test_load_model_files_checks_the_architecture(tmp_path):
    from safetensors.torch import save_file

    model = build_model("simple-cnn", 3, in_channels=1)
    weights = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    card = tmp_path / "model.json"
    ModelCard("simple-cnn", ["a", "b", "c"], 16, in_channels=1, mean=[0.5], std=[0.5]).save(card)
    loaded, loaded_card = load_model_files(weights, card)
    assert not loaded.training and loaded_card.classes == ["a", "b", "c"]
    ModelCard("resnet18", ["a", "b", "c"], 16).save(card)
    with pytest.raises(InvalidInputError, match="weights do not fit resnet18"):
        load_model_files(weights, card)
