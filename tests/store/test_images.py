"""inspect_image / open_upright on real and deliberately broken files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from imagefactory import digit_png, encode, photo
from studio.store.images import InvalidImage, inspect_image, open_upright


def png_with_header(width: int, height: int) -> bytes:
    """A tiny PNG file whose IHDR claims ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 2)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_digit_png_is_inspected():
    info = inspect_image(digit_png(3))
    assert (info.format, info.width, info.height, info.channels) == ("png", 28, 28, 1)


def test_photo_jpeg_is_inspected_and_opened_rgb():
    data = encode(photo("astronaut"), "JPEG", quality=90)
    info = inspect_image(data)
    assert (info.format, info.width, info.height, info.channels) == ("jpeg", 512, 512, 3)
    img = open_upright(data)
    assert img.mode == "RGB" and img.size == (512, 512)


def test_zero_byte_file():
    with pytest.raises(InvalidImage, match="empty file"):
        inspect_image(b"")


def test_text_file_is_not_an_image():
    with pytest.raises(InvalidImage, match=r"not an image file \(text\?\)"):
        inspect_image(b"name,label\ncat.png,cat\n")


def test_truncated_png():
    data = encode(photo("astronaut"), "PNG")
    with pytest.raises(InvalidImage, match="truncated or damaged PNG"):
        inspect_image(data[: len(data) // 2])


def test_truncated_jpeg():
    data = encode(photo("astronaut"), "JPEG", quality=90)
    with pytest.raises(InvalidImage, match="truncated or damaged JPEG"):
        inspect_image(data[: len(data) // 2])


def test_decompression_bomb_far_over_the_limit():
    with pytest.raises(InvalidImage, match="image too large"):
        inspect_image(png_with_header(30000, 30000))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_just_over_our_pixel_limit():
    with pytest.raises(InvalidImage, match=r"image too large \(12000x9000 pixels"):
        open_upright(png_with_header(12000, 9000))


def test_cmyk_jpeg_opens_as_rgb_with_the_right_colours():
    rgb = photo("astronaut").resize((128, 128))
    data = encode(rgb.convert("CMYK"), "JPEG", quality=95)
    info = inspect_image(data)
    assert info.channels == 3
    img = open_upright(data)
    assert img.mode == "RGB"
    diff = np.abs(np.asarray(img, np.int16) - np.asarray(rgb, np.int16)).mean()
    assert diff < 12, diff


def test_16_bit_png_scales_to_8_bit():
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    data = encode(Image.fromarray(ramp), "PNG")
    info = inspect_image(data)
    assert (info.width, info.height, info.channels) == (64, 64, 1)
    img = open_upright(data)
    assert img.mode == "L"
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    assert np.abs(np.asarray(img, np.int16) - expected).max() <= 1


def test_palette_png_with_transparency_is_flattened_on_white():
    pal = Image.new("P", (20, 10), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    for x in range(10, 20):
        for y in range(10):
            pal.putpixel((x, y), 1)
    data = encode(pal, "PNG", transparency=0)  # index 0 (red) is transparent
    assert inspect_image(data).channels == 4
    img = open_upright(data)
    assert img.mode == "RGB"
    assert img.getpixel((2, 2)) == (255, 255, 255)  # transparent -> white, not red
    assert img.getpixel((15, 5)) == (0, 0, 255)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    info = inspect_image(buf)
    assert info.format == "gif" and (info.width, info.height) == (16, 16)
    img = open_upright(buf)
    r, g, b = img.convert("RGB").getpixel((8, 8))
    assert r > 200 and g < 50 and b < 50


def test_exif_rotated_jpeg_is_upright():
    # A stored 200x100 picture whose left half is black, right half white, tagged "rotate 90 CW".
    stored = np.zeros((100, 200, 3), np.uint8)
    stored[:, 100:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    info = inspect_image(data)
    assert (info.width, info.height) == (100, 200)
    img = open_upright(data)
    assert img.size == (100, 200)
    pixels = np.asarray(img.convert("L"))
    # Rotating 90 degrees clockwise puts the stored left (black) half on top.
    assert pixels[:90].mean() < 20 and pixels[110:].mean() > 235


def test_grey_alpha_is_flattened_to_grey():
    la = Image.new("LA", (8, 8), (0, 0))  # fully transparent black
    img = open_upright(encode(la, "PNG"))
    assert img.mode == "L" and img.getpixel((3, 3)) == 255


def test_open_upright_reads_a_path(tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(digit_png(5))
    assert open_upright(path).size == (28, 28)


def test_invalid_image_is_a_user_error():
    from studio.core.errors import InvalidInputError

    assert issubclass(InvalidImage, InvalidInputError)


def test_float_tiff_opens_as_grey():
    ramp = np.linspace(0.0, 1.0, 32 * 16, dtype=np.float32).reshape(16, 32)
    data = encode(Image.fromarray(ramp, "F"), "TIFF")
    assert inspect_image(data).channels == 1
    img = open_upright(data)
    assert img.mode == "L" and img.getpixel((0, 0)) == 0 and img.getpixel((31, 15)) == 255


def test_unsupported_pixel_format_is_named(monkeypatch):
    import studio.store.images as images

    monkeypatch.setattr(images, "SUPPORTED_MODES", images.SUPPORTED_MODES - {"CMYK"})
    data = encode(photo("astronaut").convert("CMYK").resize((32, 32)), "JPEG")
    with pytest.raises(InvalidImage, match=r"unsupported pixel format \(CMYK\)"):
        inspect_image(data)
