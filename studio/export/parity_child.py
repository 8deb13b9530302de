"""Run an exported file with nothing but its own runtime, in a fresh process (the parity check).

    python parity_child.py FORMAT MODEL_FILE INPUTS.npz OUTPUTS.npz

INPUTS.npz holds uint8 N x H x W x C batches named ``batch0``, ``batch1``, ...; OUTPUTS.npz gets
the probabilities under the same names plus ``studio_loaded`` (whether any studio module was
imported: it must stay 0 for ONNX and TorchScript, the proof that nothing leaked in).
Table models (FORMAT ``table-onnx`` / ``table-torchscript``) get ``numbers`` and ``categories``
and give ``outputs`` (probabilities or target values). Text models (``text-onnx``: MODEL_FILE is
model.onnx with tokenizer.json and its card beside it; ``text-hf``: MODEL_FILE is a Hugging Face
folder) get a JSON list of raw texts as INPUTS and give ``outputs`` (probabilities), each through
its own tokenizer: tokenizers + onnxruntime, or transformers' AutoTokenizer + AutoModel.
This file imports only numpy and the runtime of the format; safetensors, by its nature, needs
the studio's model zoo to rebuild the network.
"""

import json
import sys

import numpy as np


def onnx_runner(model_path):
    import onnxruntime

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    return lambda batch: session.run(["probabilities"], {"image": batch})[0], f"onnxruntime {onnxruntime.__version__}"


def torchscript_runner(model_path):
    import torch

    torch.set_num_threads(1)
    model = torch.jit.load(model_path, map_location="cpu").eval()

    def run(batch):
        with torch.inference_mode():
            return model(torch.from_numpy(batch))[0].numpy()

    return run, f"torch.jit {torch.__version__}"


def safetensors_runner(model_path):
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file

    from studio.train.zoo import build_model

    torch.set_num_threads(1)
    card = json.load(open(model_path.rsplit(".", 1)[0] + ".json"))
    model = build_model(card["architecture"], len(card["classes"]), card["in_channels"], card["image_size"])
    model.load_state_dict(load_file(model_path))
    model.eval()
    size = card["image_size"]
    mean = torch.tensor(card["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(card["std"]).view(1, -1, 1, 1)

    def run(batch):
        with torch.inference_mode():
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255.0
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            return torch.softmax(model((x - mean) / std), dim=1).numpy()

    return run, f"safetensors + torch {torch.__version__}"


def table_onnx_runner(model_path):
    import onnxruntime

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])

    def run(numbers, categories):
        return session.run(None, {"numbers": numbers, "categories": categories})[0]

    return run, f"onnxruntime {onnxruntime.__version__}"


def table_torchscript_runner(model_path):
    import torch

    torch.set_num_threads(1)
    model = torch.jit.load(model_path, map_location="cpu").eval()

    def run(numbers, categories):
        with torch.inference_mode():
            return model(torch.from_numpy(numbers), torch.from_numpy(categories)).numpy()

    return run, f"torch.jit {torch.__version__}"


TEXT_BATCH = 32  # texts per batch, padded to the batch's longest


def text_onnx_runner(model_path):
    import os

    import onnxruntime
    from tokenizers import Tokenizer

    with open(os.path.splitext(model_path)[0] + ".json", encoding="utf-8") as card_file:
        feed = json.load(card_file)["export"]["input"]
    tokenizer = Tokenizer.from_file(os.path.join(os.path.dirname(model_path), feed["tokenizer"]))
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])

    def run(texts):
        encodings = tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        input_ids = np.full((len(texts), width), feed["pad_id"], dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            input_ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        return session.run(["probabilities"], {"input_ids": input_ids, "attention_mask": mask})[0]

    return run, f"tokenizers + onnxruntime {onnxruntime.__version__}"


def text_hf_runner(folder):
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    transformers.logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()

    def run(texts):
        inputs = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            return torch.softmax(model(**inputs).logits.float(), dim=1).numpy()

    return run, f"transformers {transformers.__version__}"


RUNNERS = {"onnx": onnx_runner, "torchscript": torchscript_runner, "safetensors": safetensors_runner}
# tables: INPUTS.npz holds ``numbers`` (float64) and ``categories`` (int64); the result is ``outputs``
TABLE_RUNNERS = {"table-onnx": table_onnx_runner, "table-torchscript": table_torchscript_runner}
# texts: INPUTS is a JSON list of strings; the result is ``outputs`` (probabilities)
TEXT_RUNNERS = {"text-onnx": text_onnx_runner, "text-hf": text_hf_runner}


def main(argv):
    fmt, model_path, inputs_path, outputs_path = argv
    outputs = {}
    if fmt in TEXT_RUNNERS:
        run, runtime = TEXT_RUNNERS[fmt](model_path)
        with open(inputs_path, encoding="utf-8") as inputs:
            texts = json.load(inputs)
        batches = [run(texts[i:i + TEXT_BATCH]) for i in range(0, len(texts), TEXT_BATCH)]
        outputs["outputs"] = np.concatenate(batches).astype(np.float32) if batches else np.zeros((0, 0), np.float32)
    elif fmt in TABLE_RUNNERS:
        run, runtime = TABLE_RUNNERS[fmt](model_path)
        with np.load(inputs_path) as inputs:
            outputs["outputs"] = np.asarray(run(inputs["numbers"], inputs["categories"]))
    else:
        run, runtime = RUNNERS[fmt](model_path)
        with np.load(inputs_path) as inputs:
            for name in inputs.files:
                outputs[name] = np.asarray(run(inputs[name]), dtype=np.float32)
    outputs["studio_loaded"] = np.array(int(any(m == "studio" or m.startswith("studio.") for m in sys.modules)))
    outputs["runtime"] = np.array(runtime)
    np.savez(outputs_path, **outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
