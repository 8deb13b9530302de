"""Model files and cards made by someone else, built for real here (tiny ONNX graphs with the onnx
helper API, cards as JSON text): every bad one ends in one clear line, never a traceback or a huge
allocation; the well-formed twin of each is accepted, so the refusals are not blanket ones."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import InvalidInputError
from studio.core.limits import Limits
from studio.export.predictor import open_predictor

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

HUGE = 1_000_000_000
DEFAULTS = Limits()
MAX_CLASS_NAME_CHARS, MAX_MODEL_CLASSES = DEFAULTS.max_class_name_chars, DEFAULTS.max_model_classes
MAX_MODEL_IMAGE_SIZE = DEFAULTS.max_model_image_size


def save_model(path: Path, nodes, inputs, outputs, initializers=(), metadata=None, overridable=()) -> Path:
    """A real ONNX file. ``overridable`` initializers are also listed as graph inputs, which
    makes onnxruntime keep the output shape the file declares instead of inferring it."""
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    for name, shape in overridable:
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.INT64, shape))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def uint8_image_input(channels=3):
    return helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", channels])


def mean_colour_model(path: Path, classes: int = 3, metadata=None) -> Path:
    """uint8 N x H x W x 3 -> softmax of the mean colour: a valid studio-style classifier."""
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["m"], axes=[1, 2], keepdims=0),
             helper.make_node("Softmax", ["m"], ["probabilities"], axis=1)]
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])
    return save_model(path, nodes, [uint8_image_input()], [out], metadata=metadata)


def flatten_model(path: Path, declared_outputs) -> Path:
    """Flattens the image to N x (H*W*3) floats but *declares* ``declared_outputs`` outputs."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1])
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["f", "shape"], ["probabilities"])]
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, declared_outputs])
    return save_model(path, nodes, [uint8_image_input()], [out], [shape], overridable=[("shape", [2])])


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    return path


def refused(source, match: str):
    with pytest.raises(InvalidInputError, match=match) as info:
        predictor = open_predictor(source)
        predictor.predict([np.zeros((8, 8, 3), np.uint8)])
    assert "\n" not in str(info.value)
    return info.value


def test_the_well_formed_model_predicts(tmp_path, image):
    model = mean_colour_model(tmp_path / "ok.onnx", metadata={"classes": json.dumps(["red", "green", "blue"])})
    result = open_predictor(model).predict_file(image, 3)
    assert not result.error and result.top[0][0] == "red"


def limited_studio(home: Path, *args: str, gib: int = 6) -> subprocess.CompletedProcess:
    """`studio ...` whose address space is capped: asking for ~70 GB fails fast instead of swapping."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))

    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=300, preexec_fn=cap)


@pytest.mark.parametrize("command", ["predict", "import"])
def test_a_billion_declared_outputs_is_one_clear_line_not_70_gb(tmp_path, image, command):
    model = flatten_model(tmp_path / "huge.onnx", HUGE)
    assert model.stat().st_size < 300  # the whole attack is a couple of hundred bytes
    args = ["predict", str(model), str(image)] if command == "predict" else ["models", "import", str(model)]
    proc = limited_studio(tmp_path / "library", *args)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: error:"), proc.stderr[-2000:]
    assert f"{HUGE} classes" in lines[0] and f"{MAX_MODEL_CLASSES:,}" in lines[0]
    assert not (tmp_path / "library" / "models" / "huge").exists()


def test_declared_outputs_that_disagree_with_the_card(tmp_path):
    model = flatten_model(tmp_path / "m.onnx", 1000)
    (tmp_path / "m.json").write_text(json.dumps({"architecture": "x", "classes": ["a", "b"], "image_size": 8}))
    refused(model, "outputs 1,000 values but names 2 classes")


def test_actual_outputs_that_disagree_with_the_card(tmp_path):
    model = flatten_model(tmp_path / "m.onnx", "K")  # declares nothing; gives 192 values for 8x8x3
    (tmp_path / "m.json").write_text(json.dumps({"architecture": "x", "classes": ["a", "b"], "image_size": 8}))
    refused(model, r"gave outputs of shape \(1, 192\) for 1 image\(s\); its 2 classes need \(1, 2\)")


def test_onnxruntime_failing_at_run_time_is_one_line(tmp_path):
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 5])  # 8x8x3 values cannot become 1x5
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Reshape", ["f", "shape"], ["probabilities"])]
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 5])
    model = save_model(tmp_path / "m.onnx", nodes, [uint8_image_input()], [out], [shape],
                       metadata={"classes": json.dumps(list("abcde"))})
    refused(model, "the ONNX model m.onnx failed on this input")


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    refused(path, "cannot load m.onnx as ONNX")


@pytest.mark.parametrize("make, match", [
    (lambda: [helper.make_tensor_value_info("image", TensorProto.FLOAT16, ["N", 3, 8, 8])], "takes tensor\\(float16\\)"),
    (lambda: [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 192])], "rank 2"),
    (lambda: [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 8, 8]),
              helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 3, 8, 8])], "2 input"),
    (lambda: [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 5, 8, 8])], "5 input channels"),
    (lambda: [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 10**6, 10**6])], "image size 1000000"),
])
def test_inputs_the_studio_cannot_feed(tmp_path, make, match):
    inputs = make()
    elem = inputs[0].type.tensor_type.elem_type
    nodes = [helper.make_node("Identity", [inputs[0].name], ["probabilities"])]
    out = helper.make_tensor_value_info("probabilities", elem, None)
    model = save_model(tmp_path / "m.onnx", nodes, inputs, [out], metadata={"classes": json.dumps(["a", "b", "c"])})
    refused(model, match)


@pytest.mark.parametrize("classes, match", [
    ("not json", "'classes' metadata: not valid JSON"),
    (json.dumps({"a": 1}), "'classes' must be a list of names, not an object"),
    (json.dumps([1, 2, 3]), "class 0 must be a text, not a number"),
    (json.dumps([f"c{i}" for i in range(MAX_MODEL_CLASSES + 1)]), f"{MAX_MODEL_CLASSES + 1} classes"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_bad_class_metadata(tmp_path, classes, match):
    refused(mean_colour_model(tmp_path / "m.onnx", metadata={"classes": classes}), match)


CARD = {"architecture": "simple-cnn", "classes": ["red", "green", "blue"], "image_size": 16, "in_channels": 3}


@pytest.mark.parametrize("card, match", [
    ([CARD], "expected a JSON object, got a list"),
    ("plain text", "expected a JSON object, got a text"),
    (CARD | {"image_size": -16}, "image size -16"),
    (CARD | {"image_size": 0}, "image size 0"),
    (CARD | {"image_size": 10**6}, f"image size 1000000 \\(must be 1 to {MAX_MODEL_IMAGE_SIZE} pixels, STUDIO_MAX_MODEL_IMAGE_SIZE\\)"),
    (CARD | {"image_size": "224"}, "image size '224'"),
    (CARD | {"image_size": True}, "image size True"),
    (CARD | {"classes": "red,green,blue"}, "'classes' must be a list of names, not a text"),
    (CARD | {"classes": {"0": "red"}}, "'classes' must be a list of names, not an object"),
    (CARD | {"classes": []}, "0 classes"),
    (CARD | {"classes": ["red", None, "blue"]}, "class 1 must be a text, not null"),
    (CARD | {"classes": ["red", ["g"], "blue"]}, "class 1 must be a text, not a list"),
    (CARD | {"classes": ["red", "g" * (MAX_CLASS_NAME_CHARS + 1), "blue"]}, f"class 1 name must be 1 to {MAX_CLASS_NAME_CHARS}"),
    (CARD | {"classes": ["red", "", "blue"]}, "class 1 name must be 1 to"),
    (CARD | {"classes": ["red", "gr\x1b[31meen", "blue"]}, "class 1 name holds control characters"),
    (CARD | {"classes": [f"c{i}" for i in range(MAX_MODEL_CLASSES + 1)]}, f"{MAX_MODEL_CLASSES + 1} classes"),
    (CARD | {"in_channels": 2}, "'in_channels' must be 1 \\(grey\\) or 3 \\(RGB\\), not 2"),
    (CARD | {"mean": [0.5, "x", 0.5]}, "'mean' must be a list of 3 to 4 finite numbers"),
    (CARD | {"std": [0.5, 0.0, 0.5]}, "'std' must be a list of 3 to 4 positive numbers"),
    (CARD | {"training": [1, 2]}, "'training' must be a JSON object, not a list"),
    ({k: v for k, v in CARD.items() if k != "architecture"}, "no 'architecture'"),
    (CARD | {"architecture": 7}, "'architecture' must be a name"),
])
def test_bad_cards_beside_a_model(tmp_path, card, match):
    model = mean_colour_model(tmp_path / "m.onnx")
    (tmp_path / "m.json").write_text(json.dumps(card))
    error = refused(model, match)
    assert str(error).startswith("m.json is not a valid model card")


@pytest.mark.parametrize("text, match", [
    ("{\"architecture\": ", "not valid JSON"),
    ("[" * 100_000, "not valid JSON|nested too deeply"),
    (b"\xff\xfe{}", "not UTF-8 text"),
])
def test_unreadable_cards(tmp_path, text, match):
    model = mean_colour_model(tmp_path / "m.onnx")
    card = tmp_path / "m.json"
    card.write_bytes(text if isinstance(text, bytes) else text.encode())
    refused(model, match)


def test_an_oversized_card_is_not_read(tmp_path):
    import dataclasses

    from studio.core.limits import set_limits

    model = mean_colour_model(tmp_path / "m.onnx")
    (tmp_path / "m.json").write_text(json.dumps(CARD | {"notes": "x" * 2000}))
    set_limits(dataclasses.replace(DEFAULTS, max_card_bytes=1000))
    try:
        refused(model, "over the 1,000 byte limit")
    finally:
        set_limits(None)


def test_the_class_limit_is_a_setting(tmp_path, image):
    """STUDIO_MAX_MODEL_CLASSES really is what the check reads (here lowered below 3)."""
    model = mean_colour_model(tmp_path / "m.onnx")
    env = {**os.environ, "STUDIO_MAX_MODEL_CLASSES": "2"}
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(tmp_path / "lib"), "predict", str(model), str(image)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1 and "3 classes (the limit is 1 to 2, STUDIO_MAX_MODEL_CLASSES)" in proc.stderr
    del env["STUDIO_MAX_MODEL_CLASSES"]
    ok = subprocess.run([sys.executable, "-m", "studio", "--home", str(tmp_path / "lib"), "predict", str(model), str(image)],
                        capture_output=True, text=True, timeout=300, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith(f"{image}: class 0 ")


def test_the_same_cards_are_refused_for_safetensors_and_import(tmp_path):
    """The card check is the one every loader goes through, not an ONNX special case."""
    from studio.export.service import import_model

    weights = tmp_path / "m.safetensors"
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(weights))
    (tmp_path / "m.json").write_text(json.dumps(CARD | {"image_size": 10**6}))
    refused(weights, "image size 1000000")
    with pytest.raises(InvalidInputError, match="image size 1000000"):
        import_model(None, weights)


def test_a_good_card_is_used(tmp_path, image):
    model = mean_colour_model(tmp_path / "m.onnx")
    (tmp_path / "m.json").write_text(json.dumps(CARD | {"classes": ["r", "g", "b"]}))
    assert open_predictor(model).predict_file(image, 1).top[0][0] == "r"
