"""Colour-blindness simulation and green-screen compositing against references written here from
published definitions: Machado et al.'s matrices, and the JPEG/JFIF (BT.601 full range) YCbCr
equations, themselves checked against Pillow's own YCbCr conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.kernels.runtime import run_kernel

# Machado, Oliveira & Fernandes (2009), severity 1.0 and 0.5 rows, copied from the paper's table
PAPER = {
    ("protanopia", 1.0): [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    ("deuteranopia", 1.0): [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    ("tritanopia", 1.0): [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
    ("protanopia", 0.5): [[0.458064, 0.679578, -0.137642], [0.092785, 0.846313, 0.060902], [-0.007494, -0.016807, 1.024301]],
}

KNOWN = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.8, 0.3, 0.1],
                  [0.2, 0.6, 0.9], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])


def to_linear(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def to_srgb(c):
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


@pytest.mark.parametrize("deficiency, severity", list(PAPER))
def test_known_colours_match_the_paper(shipped, deficiency, severity):
    expected = to_srgb(to_linear(KNOWN) @ np.array(PAPER[(deficiency, severity)]).T)
    image = torch.tensor(KNOWN, dtype=torch.float32).reshape(1, -1, 3)
    run = run_kernel(shipped["colour_blindness"], {"deficiency": deficiency, "severity": severity},
                     inputs={"image": image})
    np.testing.assert_allclose(run.result.data.numpy().reshape(-1, 3), expected, atol=2e-4)


def test_severity_zero_is_identity_and_greys_stay_grey(shipped):
    image = torch.rand(4, 5, 3)
    same = run_kernel(shipped["colour_blindness"], {"severity": 0.0}, inputs={"image": image}).result.data
    torch.testing.assert_close(same, image, atol=1e-4, rtol=0)
    greys = torch.linspace(0, 1, 6).reshape(1, 6, 1).expand(1, 6, 3).contiguous()
    out = run_kernel(shipped["colour_blindness"], {"deficiency": "protanopia"}, inputs={"image": greys}).result.data
    assert float((out - greys).abs().max()) < 2e-3


def test_red_and_green_become_hard_to_tell_apart_for_deuteranopes(shipped):
    red_green = torch.tensor([[[0.8, 0.2, 0.1], [0.3, 0.6, 0.1]]])
    out = run_kernel(shipped["colour_blindness"], {"deficiency": "deuteranopia"}, inputs={"image": red_green}).result.data
    before = float((red_green[0, 0] - red_green[0, 1]).norm())
    after = float((out[0, 0] - out[0, 1]).norm())
    assert after < 0.5 * before


def synthetic_green_screen(h=40, w=60):
    """Left part: the screen (key green, with a darker shadow band); right part: a red object."""
    fg = torch.zeros(h, w, 3)
    fg[:, :] = torch.tensor([0.0, 0.69, 0.25])
    fg[30:, :30] *= 0.8  # mild shadow on the screen
    fg[:, 40:] = torch.tensor([0.85, 0.15, 0.1])
    bg = torch.zeros(h, w, 3)
    bg[..., 2] = 1.0  # pure blue background
    return fg, bg


def test_green_screen_alpha_and_composite(shipped):
    fg, bg = synthetic_green_screen()
    spec = shipped["green_screen"]
    params = {"key": "#00b040", "tolerance": 0.15, "softness": 0.05, "spill": 0.0}
    alpha = run_kernel(spec, params | {"show": "alpha"}, inputs={"foreground": fg, "background": bg}).result.data
    assert float(alpha[:, :30].max()) == 0.0  # screen, shadow included: fully transparent
    assert float(alpha[:, 40:].min()) == 1.0  # the object: opaque
    comp = run_kernel(spec, params, inputs={"foreground": fg, "background": bg}).result.data
    torch.testing.assert_close(comp[:, :30], bg[:, :30])
    torch.testing.assert_close(comp[:, 40:], fg[:, 40:], atol=1e-5, rtol=0)


def test_softness_gives_partial_alpha_and_spill_removes_green(shipped):
    spec = shipped["green_screen"]
    # a pixel half-way between the key and grey, and a greenish-grey (spill) pixel
    key = torch.tensor([0.0, 0.69, 0.25])
    grey = torch.tensor([0.5, 0.5, 0.5])
    fg = torch.stack([0.7 * key + 0.3 * grey, torch.tensor([0.45, 0.62, 0.45])]).reshape(1, 2, 3)
    bg = torch.zeros(1, 2, 3)
    params = {"key": "#00b040", "tolerance": 0.05, "softness": 0.2, "show": "foreground"}
    out = run_kernel(spec, params | {"spill": 1.0}, inputs={"foreground": fg, "background": bg}).result.data
    assert 0.0 < float(out[0, 0, 3]) < 1.0  # soft edge
    no_spill = run_kernel(spec, params | {"spill": 0.0}, inputs={"foreground": fg, "background": bg}).result.data
    green_excess = lambda px: float(px[1] - (px[0] + px[2]) / 2)  # noqa: E731
    assert green_excess(out[0, 1]) < 0.3 * green_excess(no_spill[0, 1])


def jfif_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """JPEG File Interchange Format equations, on 0..1 values with Cb/Cr centred on 0."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    return np.stack([y, cb, cr], axis=-1)


def jfif_rgb(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    return np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1)


def reference_key(fg, bg, key, tolerance, softness, spill):
    """Chroma-key compositing as the kernel's documentation defines it, step by step in NumPy."""
    ycc, key_ycc = jfif_ycbcr(fg), jfif_ycbcr(np.asarray(key))
    chroma, key_chroma = ycc[..., 1:], key_ycc[1:]
    distance = np.sqrt(((chroma - key_chroma) ** 2).sum(-1, keepdims=True))
    alpha = np.clip((distance - tolerance) / softness, 0, 1)
    unit = key_chroma / np.linalg.norm(key_chroma)
    along = np.maximum((chroma * unit).sum(-1, keepdims=True), 0)  # only chroma pointing towards the key
    despilled = jfif_rgb(np.concatenate([ycc[..., :1], chroma - spill * along * unit], axis=-1)).clip(0, 1)
    return alpha, despilled, despilled * alpha + bg * (1 - alpha)


def test_jfif_reference_agrees_with_pillow():
    from PIL import Image as PILImage

    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    pillow = np.asarray(PILImage.fromarray(rgb).convert("YCbCr"), dtype=np.float64)
    ours = jfif_ycbcr(rgb / 255.0) * 255 + np.array([0, 128, 128])
    assert np.abs(pillow - ours).max() <= 1.0  # Pillow rounds to whole levels
    np.testing.assert_allclose(jfif_rgb(jfif_ycbcr(rgb / 255.0)), rgb / 255.0, atol=1e-5)


@pytest.mark.parametrize("spill", [0.0, 0.6, 1.0])
def test_green_screen_matches_the_reference_on_random_images(shipped, spill):
    rng = np.random.default_rng(7)
    screen = np.array([0.0, 0.69, 0.25])
    fg = rng.random((24, 32, 3))
    fg[:, :10] = screen * rng.uniform(0.7, 1.1, (24, 10, 1)).clip(0, 1)  # screen, with shading
    fg[:, 10:14] = 0.6 * screen + 0.4 * rng.random((24, 4, 3))  # soft edge
    bg = rng.random((24, 32, 3))
    params = {"key": "#00b040", "tolerance": 0.12, "softness": 0.1, "spill": spill}
    key = tuple(int("00b040"[i:i + 2], 16) / 255 for i in (0, 2, 4))  # exactly the hex colour passed
    alpha, despilled, composite = reference_key(fg, bg, key, 0.12, 0.1, spill)
    inputs = {"foreground": torch.tensor(fg, dtype=torch.float32), "background": torch.tensor(bg, dtype=torch.float32)}
    out = {show: run_kernel(shipped["green_screen"], params | {"show": show}, inputs=inputs).result.data.numpy()
           for show in ("alpha", "foreground", "composite")}
    np.testing.assert_allclose(out["alpha"][..., 0], alpha[..., 0], atol=1e-4)
    np.testing.assert_allclose(out["foreground"][..., :3], despilled, atol=1e-4)
    np.testing.assert_allclose(out["composite"], composite, atol=1e-4)
    assert (alpha == 0).mean() > 0.2 and (alpha == 1).mean() > 0.4 and ((alpha > 0) & (alpha < 1)).any()


def test_bundled_inputs_are_used_by_default(shipped):
    run = run_kernel(shipped["green_screen"], {})
    assert run.result.shape[2] == 3 and run.result.shape[0] > 100
    assert float(run.result.data.std()) > 0.1
