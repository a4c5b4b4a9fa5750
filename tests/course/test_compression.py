"""JPEG, PNG and autoencoder codes as codecs: bytes per image and PSNR."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course import compression, data  # noqa: E402
from course.runtime import BUDGETS  # noqa: E402


@pytest.fixture(scope="module")
def images():
    return data.load_fashion_mnist(BUDGETS["ci"]).x_test[:40]


def test_jpeg_round_trip_and_scan_bytes(images):
    files = [compression.encode_jpeg(x, 50) for x in images[:5]]
    decoded = compression.decode_image(files[0])
    assert decoded.shape == (28, 28) and decoded.dtype == np.float32
    assert 0 <= decoded.min() and decoded.max() <= 1
    headers = {len(f) - compression.jpeg_scan_bytes(f) for f in files}
    assert len(headers) == 1 and 250 < headers.pop() < 700  # same tables for every image
    with pytest.raises(ValueError):
        compression.jpeg_scan_bytes(b"not a jpeg")


def test_higher_quality_costs_bytes_and_buys_psnr(images):
    points = compression.jpeg_points(images, qualities=(10, 50, 95))
    files = [p for p in points if p.codec == "JPEG file"]
    shared = [p for p in points if p.codec == "JPEG, tables shared"]
    assert [p.setting for p in files] == [p.setting for p in shared] == ["q=10", "q=50", "q=95"]
    sizes = [p.bytes_per_image for p in files]
    quality = [p.psnr for p in files]
    assert sizes == sorted(sizes) and quality == sorted(quality)
    assert all(s.bytes_per_image < p.bytes_per_image for s, p in zip(shared, files, strict=True))
    assert [s.psnr for s in shared] == quality  # same pixels, fewer bytes counted


def test_png_is_lossless(images):
    png = compression.encode_png(images[0])
    np.testing.assert_allclose(compression.decode_image(png), compression.to_uint8(images[0]) / 255.0)
    assert 0 < compression.png_bytes(images) < 28 * 28 + 200


def test_code_bytes_and_quantiser():
    assert compression.code_bytes(32) == 128 and compression.code_bytes(32, "uint8") == 32
    codes = np.random.default_rng(0).uniform(0, 5, size=(200, 8)).astype(np.float32)
    q = compression.fit_quantiser(codes)
    levels = q.quantise(codes)
    assert levels.dtype == np.uint8 and levels.min() == 0 and levels.max() == 255
    step = (q.high - q.low) / 255
    assert np.all(np.abs(q.dequantise(levels) - codes) <= step / 2 + 1e-5)
    constant = compression.fit_quantiser(np.ones((5, 2)))  # a dead unit does not divide by zero
    assert np.isfinite(constant.dequantise(constant.quantise(np.ones((1, 2))))).all()


def test_code_points_count_bytes_and_lose_to_rounding(images):
    x = data.flatten(images)
    basis = np.linalg.svd(x - x.mean(0), full_matrices=False)[2][:16].T  # a PCA-like 16-D code

    def encode(v):
        return (v - x.mean(0)) @ basis

    def decode(c):
        return np.clip(x.mean(0) + c @ basis.T, 0, 1)

    q = compression.fit_quantiser(encode(x))
    exact, rounded = compression.code_points(encode, decode, x, q, "code 16")
    assert (exact.bytes_per_image, rounded.bytes_per_image) == (64, 16)
    assert exact.codec == "AE code, float32" and rounded.codec == "AE code, uint8"
    assert abs(exact.psnr - rounded.psnr) < 3  # one byte per value instead of four costs little


def test_digits_are_centred_like_mnist():
    digits = compression.digits_as_28x28(data.load_digits().x_test[:5])
    assert digits.shape == (5, 28, 28) and digits.dtype == np.float32
    assert digits[:, :4].max() == 0 and digits[:, :, -4:].max() == 0
    assert digits.max() > 0.5


def test_rate_distortion_plot_has_one_line_per_codec(images):
    points = compression.jpeg_points(images, (10, 50))
    ax = compression.plot_rate_distortion(points, lossless_bytes=300.0)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["JPEG file", "JPEG, tables shared", "PNG (lossless)"]
    assert ax.get_xscale() == "log"
    plt.close("all")
