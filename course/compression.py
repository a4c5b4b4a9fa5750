"""Autoencoders as compressors: bytes per image against PSNR, for JPEG, PNG and codes.

A codec is judged by two numbers per image: how many bytes it stores (the rate) and
how close the decoded image is to the original (the distortion, here PSNR in dB).
JPEG and PNG need nothing but the file; an autoencoder's code also needs the decoder,
which is stored once and shared by every image, like JPEG's standard tables.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from PIL import Image

from .metrics import psnr

FLOAT32_BYTES = 4
UINT8_BYTES = 1


@dataclass(frozen=True)
class RatePoint:
    """One codec at one setting: mean bytes per image and PSNR over all images."""

    codec: str
    setting: str
    bytes_per_image: float
    psnr: float


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A [0, 1] float image as 8-bit grey levels (what an image file stores)."""
    return np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """A 2-D [0, 1] image as a baseline greyscale JPEG file (Pillow, standard tables)."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image), mode="L").save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """A 2-D [0, 1] image as a lossless greyscale PNG file (maximum compression)."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image), mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def decode_image(data: bytes) -> np.ndarray:
    """An image file's pixels as float32 in [0, 1]."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def jpeg_scan_bytes(data: bytes) -> int:
    """Bytes of a JPEG's compressed pixels: the file minus its headers, tables and end marker.

    The headers (about 300 bytes, mostly quantisation and Huffman tables) are the same
    for every image at one quality, so a collection could store them once.
    """
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file (no start-of-image marker)")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError(f"corrupt JPEG: expected a marker at byte {i}")
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        i += 2 + length
        if marker == 0xDA:  # start of scan: compressed data follow, then FF D9
            return len(data) - i - 2
    raise ValueError("corrupt JPEG: no start-of-scan marker")


def jpeg_points(images: np.ndarray, qualities: Iterable[int] = (5, 10, 25, 50, 75, 95)) -> list[RatePoint]:
    """JPEG at each quality, counted two ways: whole files ("JPEG file") and compressed
    pixels only ("JPEG, tables shared"); PSNR of the decoded images, the same for both."""
    images = np.asarray(images).reshape(len(images), *np.asarray(images).shape[1:3])
    points = []
    for quality in qualities:
        files = [encode_jpeg(image, quality) for image in images]
        quality_db = float(psnr(images, np.stack([decode_image(f) for f in files])))
        setting = f"q={quality}"
        points.append(RatePoint("JPEG file", setting, float(np.mean([len(f) for f in files])), quality_db))
        points.append(RatePoint("JPEG, tables shared", setting,
                                float(np.mean([jpeg_scan_bytes(f) for f in files])), quality_db))
    return points


def png_bytes(images: np.ndarray) -> float:
    """Mean bytes of lossless PNG files of ``images`` (N, H, W)."""
    images = np.asarray(images).reshape(len(images), *np.asarray(images).shape[1:3])
    return float(np.mean([len(encode_png(image)) for image in images]))


def code_bytes(code_size: int, dtype: str | np.dtype = "float32") -> int:
    """Bytes to store one code of ``code_size`` values of ``dtype``: 32 float32 -> 128."""
    return int(code_size) * np.dtype(dtype).itemsize


@dataclass(frozen=True)
class Quantiser:
    """Maps each code dimension's range [low, high] onto the 256 levels of a byte."""

    low: np.ndarray
    high: np.ndarray

    def quantise(self, codes: np.ndarray) -> np.ndarray:
        scaled = (np.asarray(codes) - self.low) / (self.high - self.low)
        return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)

    def dequantise(self, levels: np.ndarray) -> np.ndarray:
        return (self.low + levels.astype(np.float32) / 255.0 * (self.high - self.low)).astype(np.float32)


def fit_quantiser(train_codes: np.ndarray) -> Quantiser:
    """Per-dimension ranges taken from *training* codes (stored once, with the decoder)."""
    codes = np.asarray(train_codes, dtype=np.float32)
    low, high = codes.min(axis=0), codes.max(axis=0)
    return Quantiser(low, np.where(high > low, high, low + 1.0))


def code_points(
    encode: Callable[[np.ndarray], np.ndarray], decode: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray, quantiser: Quantiser, setting: str,
) -> list[RatePoint]:
    """An autoencoder's codes stored as float32 and as uint8: bytes per image and PSNR."""
    codes = np.asarray(encode(images), dtype=np.float32)
    size = int(np.prod(codes.shape[1:]))
    exact = np.asarray(decode(codes)).reshape(images.shape)
    rounded = np.asarray(decode(quantiser.dequantise(quantiser.quantise(codes)))).reshape(images.shape)
    return [
        RatePoint("AE code, float32", setting, code_bytes(size, "float32"), float(psnr(images, exact))),
        RatePoint("AE code, uint8", setting, code_bytes(size, "uint8"), float(psnr(images, rounded))),
    ]


def digits_as_28x28(images: np.ndarray, inner: int = 20) -> np.ndarray:
    """8x8 digits resized to ``inner`` pixels and centred on a black 28x28 canvas (as MNIST)."""
    from skimage.transform import resize

    pad = (28 - inner) // 2
    out = np.zeros((len(images), 28, 28), np.float32)
    for i, image in enumerate(images):
        out[i, pad : pad + inner, pad : pad + inner] = resize(image, (inner, inner), order=1)
    return np.clip(out, 0.0, 1.0)


def plot_rate_distortion(
    points: Sequence[RatePoint], ax: Axes | None = None, lossless_bytes: float | None = None,
    title: str = "rate-distortion",
) -> Axes:
    """PSNR against bytes per image (log scale), one line per codec; PNG as a vertical line."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for codec in dict.fromkeys(p.codec for p in points):
        mine = sorted((p for p in points if p.codec == codec), key=lambda p: p.bytes_per_image)
        ax.plot([p.bytes_per_image for p in mine], [p.psnr for p in mine], "o-", label=codec)
    if lossless_bytes is not None:
        ax.axvline(lossless_bytes, color="k", ls=":", label="PNG (lossless)")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax
