"""Safe poster loading and the one preprocessing step every image model shares.

`load_image` is used for the training posters on disk and for untrusted web uploads alike, so
it refuses what it cannot read safely (huge, truncated, tiny or non-image files) with an
`MmguiError` that says what and why, and otherwise always returns a fully decoded, upright,
8-bit RGB image. `preprocess` turns that image into the array the backbone expects; it needs
only numpy and PIL, so serving can use it without torch.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageMode, ImageOps

from mmgui.config import Settings
from mmgui.errors import MmguiError

ImageSource = str | Path | bytes | BinaryIO

# EfficientNet-Lite is trained on (pixel - 127) / 128, i.e. [-1, 1] (tensorflow/tpu
# models/official/efficientnet/lite/efficientnet_lite_builder.py: MEAN_RGB, STDDEV_RGB).
BACKBONE_MEAN = (127 / 255, 127 / 255, 127 / 255)
BACKBONE_STD = (128 / 255, 128 / 255, 128 / 255)

# Smaller than this on a side is an icon or a broken thumbnail, not a poster.
MIN_IMAGE_SIDE = 8

# Formats a poster may come in. Others (EPS runs Ghostscript, and many rare formats have
# little-tested decoders) are refused rather than handed untrusted bytes.
POSTER_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

_PIL_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")

# 16-bit and float grey is scaled to 8 bits this many pixels at a time, so the float64 work
# stays a few MB whatever the image's size.
_STRIP_PIXELS = 1 << 18


def load_image(
    source: ImageSource, max_pixels: int | None = None, max_bytes: int | None = None
) -> Image.Image:
    """Read a poster as a fully decoded, upright 8-bit RGB image.

    `source` is a path, the file's bytes, or a binary file object. Transparency is flattened
    onto white, 16-bit and float images are scaled (not clipped) to 8 bits, the EXIF
    orientation is applied and animations give their first frame. The pixel count and the
    bytes the decoded image will take (its mode's channels × bytes per channel × pixels) are
    checked against `max_pixels` and `max_bytes` (defaults `Settings.max_image_pixels` and
    `Settings.max_image_bytes`) from the header, before any pixel is decoded; the conversion
    to RGB then holds at most one more full-size image beside the decoded one and the result.
    Every problem with the input raises `MmguiError`.
    """
    settings = Settings.load()
    limit = settings.max_image_pixels if max_pixels is None else max_pixels
    byte_limit = settings.max_image_bytes if max_bytes is None else max_bytes
    label = _label(source)
    with _open(source, label, limit) as image:
        _check_size(image, label, limit)
        _check_bytes(image, label, byte_limit)
        try:
            image.load()
        except (OSError, SyntaxError) as err:
            raise MmguiError(f"{label}: the image file is truncated or corrupt ({err})") from err
        ImageOps.exif_transpose(image, in_place=True)
        return _to_rgb(image)


def preprocess(image: Image.Image, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an RGB image from `load_image` for the backbone and normalise it.

    `size` as one int: scale the shorter side to it and centre-crop a square (ImageNet style).
    `size` as (width, height): resize the whole image to it, nothing cropped (posters, whose
    title and credits sit at the top and bottom). Returns a float32 (3, H, W) array.
    """
    if image.mode != "RGB":
        raise ValueError(f"preprocess expects an RGB image from load_image, got mode {image.mode}")
    if isinstance(size, int):
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        resized = _resize_and_crop(image, size)
    else:
        width, height = size
        if width < 1 or height < 1:
            raise ValueError(f"size must be positive, got {size}")
        resized = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    normalised = (pixels - np.float32(BACKBONE_MEAN)) / np.float32(BACKBONE_STD)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def preprocess_batch(images: Sequence[Image.Image], size: int | tuple[int, int]) -> np.ndarray:
    """`preprocess` each image and stack them into a float32 (N, 3, H, W) array."""
    if not images:
        width, height = (size, size) if isinstance(size, int) else size
        return np.empty((0, 3, height, width), dtype=np.float32)
    return np.stack([preprocess(image, size) for image in images])


def _label(source: ImageSource) -> str:
    """How messages name the source: its file name (never the server folder it sits in, such
    as Gradio's upload folder), or a generic name for data without one."""
    if isinstance(source, str | Path):
        return Path(source).name
    if isinstance(source, bytes):
        return "uploaded image"
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else "uploaded image"


def _open(source: ImageSource, label: str, limit: int) -> Image.Image:
    """Open lazily (header only), turning every way this can fail into an `MmguiError`."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return Image.open(stream, formats=POSTER_FORMATS)
    except FileNotFoundError as err:
        raise MmguiError(f"{label}: no such file") from err
    except IsADirectoryError as err:
        raise MmguiError(f"{label}: is a folder, not an image file") from err
    except PermissionError as err:
        raise MmguiError(f"{label}: permission denied when reading the file") from err
    except Image.UnidentifiedImageError as err:
        reason = _why_not_an_image(_first_bytes(source))
        raise MmguiError(f"{label}: {reason}") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # PIL's own, looser bomb check fires inside Image.open, before we see the size.
        raise MmguiError(f"{label}: {_pil_bomb_reason(err, limit)}") from err
    except OSError as err:
        raise MmguiError(f"{label}: the image file is truncated or corrupt ({err})") from err


def _check_size(image: Image.Image, label: str, limit: int) -> None:
    """Refuse images too large to decode safely, or too small to be a poster, from the header."""
    width, height = image.size
    if width * height > limit:
        raise MmguiError(
            f"{label}: image is {width}×{height} = {width * height / 1e6:.1f} MP, "
            f"above the {_megapixels(limit)} MP limit"
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise MmguiError(
            f"{label}: image is {width}×{height} px, smaller than the "
            f"{MIN_IMAGE_SIDE} px minimum on a side"
        )


def decoded_bytes(image: Image.Image) -> int:
    """Bytes of the decoded pixels, from the header's mode and size alone: a 16-bit grey image
    takes twice, an RGBA one four times the bytes of an 8-bit grey one of the same size."""
    mode = ImageMode.getmode(image.mode)
    width, height = image.size
    return width * height * len(mode.bands) * np.dtype(mode.typestr).itemsize


def _check_bytes(image: Image.Image, label: str, limit: int) -> None:
    size = decoded_bytes(image)
    if size > limit:
        width, height = image.size
        raise MmguiError(
            f"{label}: image is {width}×{height} {image.mode}, {size / 1e6:.4g} MB once "
            f"decoded, above the {limit / 1e6:.4g} MB limit; save it smaller or as 8-bit RGB"
        )


def _pil_bomb_reason(err: Exception, limit: int) -> str:
    found = _PIL_BOMB_PIXELS.search(str(err))
    size = f"{int(found.group(1)) / 1e6:.1f} MP" if found else "too large to decode safely"
    return f"image is {size}, above the {_megapixels(limit)} MP limit"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.4g}"


def _first_bytes(source: ImageSource, count: int = 512) -> bytes | None:
    """The start of the data, to say what a non-image is; None where it cannot be read again."""
    try:
        if isinstance(source, bytes):
            return source[:count]
        if isinstance(source, str | Path):
            with open(source, "rb") as file:
                return file.read(count)
        source.seek(0)
        return source.read(count)
    except (OSError, ValueError):
        return None


def _why_not_an_image(head: bytes | None) -> str:
    if head is None:
        return "not an image in a supported format"
    if not head:
        return "the file is empty (0 bytes)"
    if head.startswith(b"%PDF"):
        return "this is a PDF document, not an image"
    if b"<svg" in head.lower():
        return "SVG drawings are not supported; use a JPEG, PNG or WebP image"
    if _looks_like_text(head):
        return "this is a text file, not an image"
    return f"not an image in a supported format ({', '.join(POSTER_FORMATS)})"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char.isspace() for char in text)


def _to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy: alpha composited on white, 16-bit and float grey scaled to 8 bits.

    Alpha is flattened by pasting through itself onto a white RGB image, so an RGBA image
    costs the decoded image and the result, no third full-size copy."""
    if image.getbands() in (("I",), ("F",)):
        return Image.fromarray(_grey_to_8bit(image)).convert("RGB")
    if image.has_transparency_data:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba)
        return flat
    return image.convert("RGB")


def _grey_to_8bit(image: Image.Image) -> np.ndarray:
    """Integer grey is taken as 16-bit (0..65535); float grey as 0..1, else its own range.

    Worked in strips of rows, so no full-size float64 copy is ever made."""
    width, height = image.size
    rows = max(1, _STRIP_PIXELS // width)
    boxes = [(0, top, width, min(height, top + rows)) for top in range(0, height, rows)]
    grey = np.empty((height, width), dtype=np.uint8)
    if image.mode != "F":
        for box in boxes:
            strip = np.asarray(image.crop(box))
            grey[box[1] : box[3]] = np.round(np.clip(strip, 0, 65535) / 257.0)
        return grey

    def floats(box: tuple[int, int, int, int]) -> np.ndarray:
        return np.nan_to_num(np.asarray(image.crop(box)).astype(np.float64))

    low, high = np.inf, -np.inf
    for box in boxes:
        values = floats(box)
        low, high = min(low, float(values.min())), max(high, float(values.max()))
    for box in boxes:
        values = floats(box)
        if low < 0.0 or high > 1.0:
            values = (values - low) / (high - low or 1.0)
        grey[box[1] : box[3]] = np.round(values * 255.0)
    return grey


def _resize_and_crop(image: Image.Image, size: int) -> Image.Image:
    width, height = image.size
    scale = size / min(width, height)
    resized_width = max(size, round(width * scale))
    resized_height = max(size, round(height * scale))
    resized = image.resize((resized_width, resized_height), Image.Resampling.BILINEAR)
    left = (resized_width - size) // 2
    top = (resized_height - size) // 2
    return resized.crop((left, top, left + size, top + size))
