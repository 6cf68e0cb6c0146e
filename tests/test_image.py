"""Tests for mmgui.data.image: every file is generated in tmp_path, nothing is downloaded."""

from __future__ import annotations

import io
import re
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgui.data.image import (
    MIN_IMAGE_SIDE,
    decoded_bytes,
    load_image,
    preprocess,
    preprocess_batch,
)
from mmgui.errors import MmguiError

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)


def save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def png_header_only(width: int, height: int, colour_type: int = 2, depth: int = 8) -> bytes:
    """A valid PNG header claiming `width`×`height` (RGB unless `colour_type` says otherwise),
    with no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def two_colour_palette_image() -> Image.Image:
    """Left half palette index 0 (transparent), right half index 1 (green)."""
    poster = Image.new("P", (32, 16), 0)
    poster.putpalette([*RED, *GREEN])
    poster.paste(1, (16, 0, 32, 16))
    poster.info["transparency"] = 0
    return poster


# ---------------------------------------------------------------- colour modes


def test_rgb_jpeg_loads(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (40, 30), RED), tmp_path / "poster.jpg")
    poster = load_image(path)
    assert poster.mode == "RGB"
    assert poster.size == (40, 30)
    assert close_to(poster.getpixel((20, 15)), RED)


@pytest.mark.parametrize(
    ("name", "image", "options", "expected"),
    [
        ("grey.png", Image.new("L", (16, 16), 100), {}, (100, 100, 100)),
        ("bilevel.png", Image.new("1", (16, 16), 1), {}, WHITE),
        ("grey_clear.png", Image.new("LA", (16, 16), (0, 0)), {}, WHITE),
        ("grey_opaque.png", Image.new("LA", (16, 16), (60, 255)), {}, (60, 60, 60)),
        ("rgba_clear.png", Image.new("RGBA", (16, 16), (*RED, 0)), {}, WHITE),
        ("rgba_half.png", Image.new("RGBA", (16, 16), (0, 0, 0, 128)), {}, (127, 127, 127)),
        ("rgba_opaque.png", Image.new("RGBA", (16, 16), (*BLUE, 255)), {}, BLUE),
        ("cmyk.jpg", Image.new("CMYK", (16, 16), (0, 255, 255, 0)), {}, RED),
        ("palette.gif", Image.new("P", (16, 16), 0), {}, (0, 0, 0)),
        ("float.tiff", Image.new("F", (16, 16), 0.5), {}, (128, 128, 128)),
    ],
)
def test_colour_modes_become_rgb(
    tmp_path: Path,
    name: str,
    image: Image.Image,
    options: dict[str, object],
    expected: tuple[int, int, int],
) -> None:
    poster = load_image(save(image, tmp_path / name, **options))
    assert poster.mode == "RGB"
    assert close_to(poster.getpixel((8, 8)), expected)


def test_palette_transparency_is_white(tmp_path: Path) -> None:
    poster = load_image(save(two_colour_palette_image(), tmp_path / "palette.png"))
    assert poster.mode == "RGB"
    assert poster.getpixel((4, 8)) == WHITE
    assert poster.getpixel((28, 8)) == GREEN


@pytest.mark.parametrize(("level_16", "level_8"), [(0, 0), (32768, 128), (65535, 255)])
def test_16_bit_grey_is_scaled_not_clipped(tmp_path: Path, level_16: int, level_8: int) -> None:
    path = save(Image.fromarray(np.full((16, 16), level_16, np.uint16)), tmp_path / "deep.png")
    with Image.open(path) as stored:
        assert stored.mode == "I;16"
    poster = load_image(path)
    assert close_to(poster.getpixel((8, 8)), (level_8,) * 3, tolerance=1)


@pytest.mark.parametrize("suffix", ["gif", "webp", "png"])
def test_animation_gives_first_frame(tmp_path: Path, suffix: str) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, BLUE, GREEN)]
    path = tmp_path / f"animated.{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    with Image.open(path) as stored:
        assert stored.n_frames == 3
    assert close_to(load_image(path).getpixel((8, 8)), RED)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = Image.new("RGB", (40, 20), RED)
    stored.paste(BLUE, (20, 0, 40, 20))  # left red, right blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    poster = load_image(save(stored, tmp_path / "phone.jpg", exif=exif.tobytes()))
    assert poster.size == (20, 40)
    assert close_to(poster.getpixel((10, 5)), RED, tolerance=20)  # stored left is now on top
    assert close_to(poster.getpixel((10, 35)), BLUE, tolerance=20)


# ---------------------------------------------------------------- sources


def test_bytes_and_file_objects_load(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (24, 24), GREEN), tmp_path / "poster.png")
    data = path.read_bytes()
    assert load_image(data).getpixel((1, 1)) == GREEN
    assert load_image(io.BytesIO(data)).getpixel((1, 1)) == GREEN
    with path.open("rb") as file:
        assert load_image(file).getpixel((1, 1)) == GREEN
    assert load_image(str(path)).getpixel((1, 1)) == GREEN


def test_loaded_image_outlives_the_file(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (24, 24), GREEN), tmp_path / "poster.png")
    poster = load_image(path)
    path.unlink()
    assert poster.copy().getpixel((1, 1)) == GREEN


# ---------------------------------------------------------------- refusals


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = save(Image.fromarray(noise), tmp_path / "whole.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MmguiError, match="truncated or corrupt") as caught:
        load_image(path)
    assert isinstance(caught.value.__cause__, OSError)
    assert str(caught.value).startswith("half.jpg: ")  # the name, not the server folder
    assert str(tmp_path) not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"Title,Genre\nAlien,Horror\n", "text file"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (bytes(range(256)) * 4, "supported format"),
    ],
)
def test_non_images_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "poster.jpg"
    path.write_bytes(content)
    with pytest.raises(MmguiError, match=message) as caught:
        load_image(path)
    assert caught.value.__cause__ is not None
    with pytest.raises(MmguiError, match=message):
        load_image(content)
    with pytest.raises(MmguiError, match=message):
        load_image(io.BytesIO(content))


def test_format_outside_the_allow_list_is_refused(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (16, 16), RED), tmp_path / "poster.ppm")
    with pytest.raises(MmguiError, match="supported format"):
        load_image(path)


def test_missing_file_and_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MmguiError, match="no such file") as caught:
        load_image(tmp_path / "absent.jpg")
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    with pytest.raises(MmguiError, match="folder"):
        load_image(tmp_path)


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (20_000, 20_000, "400.0 MP, above the 40 MP limit"),  # past PIL's own bomb check
        (10_000, 9_000, "90.0 MP, above the 40 MP limit"),  # PIL warns; an error here
        (8_000, 6_000, "8000×6000 = 48.0 MP, above the 40 MP limit"),
    ],
)
@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # strictest set-up
def test_huge_image_is_refused_from_its_header(width: int, height: int, message: str) -> None:
    # The file holds no pixel data: decoding would fail as truncated, so the size message
    # proves the refusal came from the header alone.
    start = time.perf_counter()
    with pytest.raises(MmguiError, match=re.escape(message)):
        load_image(png_header_only(width, height), max_pixels=40_000_000)
    assert time.perf_counter() - start < 1.0


def test_default_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMGUI_MAX_IMAGE_PIXELS", "1000")
    data = io.BytesIO()
    Image.new("RGB", (100, 100), RED).save(data, "PNG")
    with pytest.raises(MmguiError, match=re.escape("100×100 = 0.0 MP, above the 0.001 MP limit")):
        load_image(data.getvalue())
    assert load_image(data.getvalue(), max_pixels=10_000).size == (100, 100)


@pytest.mark.parametrize(
    ("colour_type", "depth", "mode"),
    [(6, 16, "RGBA"), (6, 8, "RGBA"), (4, 8, "LA")],  # 4, 4 and 2 bytes a pixel decoded
)
def test_wide_modes_are_refused_by_decoded_bytes_from_the_header(
    colour_type: int, depth: int, mode: str
) -> None:
    header = png_header_only(100, 100, colour_type, depth)
    with pytest.raises(MmguiError, match=re.escape(f"100×100 {mode}, ")):
        load_image(header, max_pixels=10_000, max_bytes=19_999)


def test_the_byte_limit_passes_what_fits(tmp_path: Path) -> None:
    rgb_header = png_header_only(100, 100)  # 30,000 bytes decoded: passes, then has no pixels
    with pytest.raises(MmguiError, match="truncated or corrupt"):
        load_image(rgb_header, max_bytes=30_000)
    deep = save(Image.fromarray(np.full((100, 100), 300, np.uint16)), tmp_path / "deep.png")
    with Image.open(deep) as stored:
        assert decoded_bytes(stored) == 20_000
    assert load_image(deep, max_bytes=20_000).size == (100, 100)


def test_default_byte_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMGUI_MAX_IMAGE_BYTES", "30000")
    rgba, rgb = io.BytesIO(), io.BytesIO()
    Image.new("RGBA", (100, 100), (*RED, 128)).save(rgba, "PNG")
    Image.new("RGB", (100, 100), RED).save(rgb, "PNG")
    with pytest.raises(MmguiError, match=re.escape("0.04 MB once decoded, above the 0.03 MB")):
        load_image(rgba.getvalue())
    assert load_image(rgb.getvalue()).size == (100, 100)


def test_flattening_alpha_makes_no_third_full_size_image(tmp_path: Path) -> None:
    path = save(Image.new("RGBA", (300, 200), (*RED, 128)), tmp_path / "clear.png")
    before = Image.core.get_stats()["new_count"]
    poster = load_image(path)
    assert Image.core.get_stats()["new_count"] - before <= 2  # the decoded image, the result
    assert poster.mode == "RGB"


def test_16_bit_grey_is_scaled_without_a_full_size_float_copy(tmp_path: Path) -> None:
    levels = np.tile(np.arange(2000, dtype=np.uint16) * 32, (2000, 1))
    path = save(Image.fromarray(levels), tmp_path / "deep.png")
    tracemalloc.start()
    try:
        poster = load_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 2 * levels.nbytes  # a float64 copy alone would be 4 × the decoded bytes
    expected = np.round(levels / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(poster)[..., 0], expected)


@pytest.mark.parametrize("size", [(MIN_IMAGE_SIDE - 1, 100), (100, 1)])
def test_tiny_image_is_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    path = save(Image.new("RGB", size, RED), tmp_path / "icon.png")
    with pytest.raises(MmguiError, match="minimum"):
        load_image(path)


# ---------------------------------------------------------------- preprocessing


def expected_normalised(level: int) -> float:
    """EfficientNet-Lite's input: (pixel - 127) / 128."""
    return (level - 127) / 128


@pytest.mark.parametrize("size", [32, 224])
def test_preprocess_shape_dtype_and_range(size: int) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (90, 60, 3), dtype=np.uint8)
    array = preprocess(Image.fromarray(noise), size)
    assert array.shape == (3, size, size)
    assert array.dtype == np.float32
    assert array.flags.c_contiguous
    assert array.min() >= expected_normalised(0) - 1e-6
    assert array.max() <= expected_normalised(255) + 1e-6


@pytest.mark.parametrize("colour", [(255, 0, 127), (127, 127, 127), (10, 200, 90)])
def test_constant_colour_normalises_to_a_constant(colour: tuple[int, int, int]) -> None:
    array = preprocess(Image.new("RGB", (50, 80), colour), 32)
    for channel, level in enumerate(colour):
        np.testing.assert_allclose(array[channel], expected_normalised(level), atol=1e-6)


def test_preprocess_keeps_the_centre() -> None:
    stripes = Image.new("RGB", (300, 100), RED)
    stripes.paste(GREEN, (100, 0, 200, 100))
    stripes.paste(BLUE, (200, 0, 300, 100))
    array = preprocess(stripes, 64)  # resized to 192×64, then the middle 64×64 kept
    np.testing.assert_allclose(
        array[:, :, 5:-5], preprocess(Image.new("RGB", (9, 9), GREEN), 64)[:, :, 5:-5], atol=1e-6
    )


def test_preprocess_refuses_non_rgb() -> None:
    with pytest.raises(ValueError, match="RGB"):
        preprocess(Image.new("RGBA", (16, 16)), 8)


def test_preprocess_batch_stacks() -> None:
    posters = [Image.new("RGB", (40, 60), colour) for colour in (RED, GREEN, BLUE)]
    batch = preprocess_batch(posters, 16)
    assert batch.shape == (3, 3, 16, 16)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch[1], preprocess(posters[1], 16))
    assert preprocess_batch([], 16).shape == (0, 3, 16, 16)


def test_preprocess_to_width_height_keeps_the_whole_poster() -> None:
    poster = Image.new("RGB", (100, 150), RED)
    poster.paste(BLUE, (0, 0, 100, 15))  # a title band at the top must survive
    array = preprocess(poster, (32, 48))
    assert array.shape == (3, 48, 32)
    top, middle = array[:, 0, 16], array[:, 24, 16]
    assert top[2] > top[0] and middle[0] > middle[2]
    assert preprocess_batch([], (32, 48)).shape == (0, 3, 48, 32)
