"""Lab 04 · denoising: corruptions and a denoiser."""

from __future__ import annotations

import numpy as np

from .answers import Other, as_array, attempt, check, close, expect, passed, same, unwrap
from .training import history_facts, judge_history, predict, spy_on_fit, trained_model


def images(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)


def _raw(value) -> np.ndarray | None:
    """An array of the value as given (bools stay bools), or None if it holds no numbers."""
    value = unwrap(value)
    if value is None or isinstance(value, Other):
        return None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" else None


def _array(value, what: str) -> np.ndarray:
    array = as_array(value)
    expect(array is not None, f"return {what} as a NumPy array of numbers.")
    return array


# --------------------------------------------------------------------------- exercise 1


def judge_gaussian_noise(data: dict, shape, std, seed) -> None:
    x = images(tuple(shape), seed)
    noisy = _array(data["noisy"], "the noisy images")
    expect(
        close(data["x_after"], x, rtol=0, atol=0),
        "your function changed the clean images: compute x + noise as a new array (no +=).",
    )
    expect(
        noisy.shape == x.shape,
        f"return images of the same shape as x, {x.shape}; yours have shape {noisy.shape}.",
    )
    expect(
        noisy.min() >= 0 and noisy.max() <= 1,
        f"pixels must stay in [0, 1]: clip the noisy images (np.clip); yours range from "
        f"{noisy.min():.3g} to {noisy.max():.3g}.",
    )
    expect(not np.allclose(noisy, x), "the noisy images equal the clean ones: add the noise.")
    expect(
        close(data["again"], noisy, rtol=0, atol=0),
        "the same seed must give the same noise: rng = np.random.default_rng(seed).",
    )
    expect(
        not close(data["other_seed"], noisy, rtol=0, atol=0),
        "different seeds gave the same noise: your function ignores `seed`.",
    )
    small = 0.1
    grey = as_array(data["grey"])
    diff = (grey if grey is not None and grey.shape == (64, 32, 32) else np.full((64, 32, 32), np.nan)) - 0.5
    expect(
        abs(diff.std() - small) < 0.1 * small and abs(diff.mean()) < 0.1 * small,
        f"on mid-grey images with std={small} the noise should have mean 0 and standard "
        f"deviation {small} (Gaussian: rng.normal(0, std, x.shape)); yours has mean "
        f"{diff.mean():.4f} and standard deviation {diff.std():.4f}.",
    )
    passed(f"Gaussian noise (std {std}) on images of shape {tuple(shape)}")


@check(judge_gaussian_noise)
def check_gaussian_noise(fn, shape: tuple = (6, 28, 28), std: float = 0.5, seed: int = 0) -> dict:
    """``fn(x, std, seed)``: clip(x + N(0, std^2), 0, 1), seeded, on a new array."""
    x = images(tuple(shape), seed)
    noisy = fn(x, std, seed)
    out = {
        "noisy": noisy,
        "x_after": x.copy(),
        "again": attempt(fn, x, std, seed),
        "other_seed": attempt(fn, x, std, seed + 1),
    }
    out["grey"] = attempt(fn, np.full((64, 32, 32), 0.5, np.float32), 0.1, seed)  # mid-grey: never clipped
    return out


# --------------------------------------------------------------------------- exercise 2


def judge_watermark(data: dict, shape, opacity, seed) -> None:
    from ..corruptions import watermark_pattern

    shape = tuple(shape)
    mark = watermark_pattern(shape[1:3])
    for images_shape, got, after in zip((shape, (*shape, 1)), data["marked"], data["x_after"], strict=True):
        x = images(images_shape, seed)
        got = _array(got, "the watermarked images")
        expect(
            close(after, x, rtol=0, atol=0),
            "your function changed the clean images: build the watermarked ones as a new array.",
        )
        expect(
            got.shape == x.shape,
            f"for images of shape {x.shape} return the same shape; yours is {got.shape}. For "
            "(N, H, W, 1) images give the (H, W) mark a channel axis: mark[..., None].",
        )
        m = mark if x.ndim == 3 else mark[..., None]
        expected = (1 - opacity * m) * x + opacity * m
        hint = ""
        if close(got, np.clip(x + opacity * m, 0, 1), rtol=1e-5, atol=1e-6):
            hint = " Blend, do not add: where the mark is 1 the pixel moves toward white."
        expect(
            close(got, expected, rtol=1e-5, atol=1e-6),
            f"blend the mark over each image: (1 - opacity * mark) * x + opacity * mark "
            f"(with opacity={opacity}, a pixel under the mark goes from x toward 1)." + hint,
        )
    expect(
        close(data["no_opacity"], images(shape, seed), rtol=1e-6),
        "with opacity 0 the images should be unchanged.",
    )
    passed(f"watermark with opacity {opacity} on images of shape {shape}")


@check(judge_watermark)
def check_watermark(fn, shape: tuple = (4, 28, 28), opacity: float = 0.5, seed: int = 0) -> dict:
    """``fn(x, mark, opacity)``: (1 - opacity*mark) * x + opacity*mark, on a new array;
    ``x`` is (N, H, W) or (N, H, W, 1), ``mark`` is (H, W)."""
    from ..corruptions import watermark_pattern

    shape = tuple(shape)
    mark = watermark_pattern(shape[1:3])
    marked, after = [], []
    for images_shape in (shape, (*shape, 1)):
        x = images(images_shape, seed)
        marked.append(fn(x, mark.copy(), opacity) if not marked else attempt(fn, x, mark.copy(), opacity))
        after.append(x)
    return {
        "marked": marked,
        "x_after": after,
        "no_opacity": attempt(fn, images(shape, seed), mark.copy(), 0.0),
    }


# --------------------------------------------------------------------------- exercise 3


def judge_mask_patches(data: dict, shape, size, seed) -> None:
    shape = tuple(shape)
    x = images(shape, seed) * 0.9 + 0.05  # no pixel is 0
    result = data["result"]
    expect(isinstance(result, tuple) and len(result) == 2, "return a tuple (masked_images, mask).")
    masked, mask = (_raw(r) for r in result)
    expect(masked is not None and mask is not None, "return the masked images and the mask as arrays.")
    expect(
        close(data["x_after"], x, rtol=0, atol=0),
        "your function changed the clean images: mask a copy (x.copy()).",
    )
    expect(masked.shape == x.shape, f"masked images should have shape {x.shape}, not {masked.shape}.")
    expect(
        mask.shape == x.shape and mask.dtype == bool,
        f"mask should be a boolean array of shape {x.shape} (True where pixels were removed); "
        f"yours is {mask.dtype} {mask.shape}.",
    )
    counts = mask.reshape(len(x), -1).sum(axis=1)
    expect(
        bool(np.all(counts == size * size)),
        f"each image should lose exactly one {size}x{size} square ({size * size} pixels), fully "
        f"inside the image: draw the top-left corner from 0 to H - {size}. Your masks have "
        f"{sorted(set(counts.tolist()))} pixels.",
    )
    corners = []
    for m in mask:
        rows, cols = np.nonzero(m)
        expect(
            rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size,
            f"each mask should be one {size}x{size} square.",
        )
        corners.append((int(rows.min()), int(cols.min())))
    masked = masked.astype(np.float64)
    expect(bool(np.all(masked[mask] == 0)), "the removed pixels should be set to 0.")
    expect(
        np.array_equal(masked[~mask], x[~mask].astype(np.float64)),
        "pixels outside the square must keep their values.",
    )
    expect(
        len(set(corners)) > 1, "every image has its square in the same place: draw a position for each image."
    )
    again = _raw(data["again_mask"])
    expect(
        again is not None and again.shape == mask.shape and np.array_equal(again, mask),
        "the same seed must give the same squares: rng = np.random.default_rng(seed).",
    )
    other = _raw(data["other_mask"])
    expect(
        other is None or other.shape != mask.shape or not np.array_equal(other, mask),
        "different seeds gave the same squares: your function ignores `seed`.",
    )
    passed(f"{size}x{size} masks on images of shape {shape}")


@check(judge_mask_patches)
def check_mask_patches(fn, shape: tuple = (16, 28, 28), size: int = 8, seed: int = 0) -> dict:
    """``fn(x, size, seed)`` -> ``(masked, mask)``: one random size x size square per image,
    inside the image, set to 0; ``mask`` is True there; seeded; ``x`` untouched."""
    x = images(tuple(shape), seed) * 0.9 + 0.05
    result = fn(x, size, seed)

    def second(r):
        return r[1] if isinstance(r, tuple) and len(r) == 2 else None

    return {
        "result": result,
        "x_after": x.copy(),
        "again_mask": attempt(lambda: second(fn(x, size, seed))),
        "other_mask": attempt(lambda: second(fn(x, size, seed + 1))),
    }


# --------------------------------------------------------------------------- exercise 4


def _denoiser(model: str, image_shape: tuple):
    from .. import models

    if model == "conv":
        return models.conv_denoiser(image_shape, filters=16)
    return models.dense_autoencoder(int(np.prod(image_shape)), 128)[2]


def judge_denoiser_training(data: dict, model, std, seed, min_gain_db) -> None:
    from .. import corruptions, metrics, runtime
    from .. import data as datasets

    gain_needed = min_gain_db if min_gain_db is not None else {"conv": 3.0, "dense": 2.5}[model]
    budget = runtime.budget("ci")
    expect(data["fit_calls"] > 0, "train_denoiser should call model.fit.")
    judge_history(data["history"], budget.epochs, need_val=False)
    net = trained_model(data, _denoiser(model, (28, 28, 1)), "denoiser")
    x_test = datasets.held_out_test(budget.n_test)[0][..., None]
    if model != "conv":
        x_test = datasets.flatten(x_test)
    noisy_test = corruptions.gaussian_noise(x_test, std, seed=seed + 2)
    before = metrics.psnr(x_test, noisy_test)
    after = metrics.psnr(x_test, predict(net, noisy_test))
    print(
        f"PSNR of {len(x_test)} noisy held-out test images {before:.2f} dB, denoised {after:.2f} dB "
        f"(gain {after - before:+.2f} dB, required {gain_needed:+.1f} dB)"
    )
    expect(
        after - before >= gain_needed,
        f"after {budget.epochs} epochs on {budget.n_train:,} images the denoiser raised the test PSNR "
        f"by {after - before:+.2f} dB, less than {gain_needed} dB. Compile with "
        "optimizer='adam' and loss='binary_crossentropy' or 'mse', and train for `epochs`.",
    )
    passed(f"denoiser ({model}) gains {after - before:+.2f} dB of PSNR")


@check(judge_denoiser_training)
def check_denoiser_training(
    train_fn, model: str = "conv", std: float = 0.5, seed: int = 0, min_gain_db: float | None = None
) -> dict:
    """``train_fn(model, x_noisy, x_clean, epochs, batch_size)`` compiles and trains a denoiser;
    it must then raise the PSNR of noisy held-out test images by ``min_gain_db``, at the
    grading budget (``ci``) everywhere.

    ``model``: 'conv' (the slides' denoiser with 16 filters) or 'dense' (784-128-784)."""
    import keras

    from .. import corruptions, runtime
    from .. import data as datasets

    budget = runtime.budget("ci")  # the grading budget wherever it runs: calibrated there
    print(f"grading budget {budget.describe()}")
    x_train = datasets.load_fashion_mnist(budget).x_train[..., None]
    keras.utils.set_random_seed(seed)
    net = _denoiser(model, x_train.shape[1:])
    if model != "conv":
        x_train = datasets.flatten(x_train)
    noisy_train = corruptions.gaussian_noise(x_train, std, seed=seed + 1)

    def noisy_to_clean(x, y) -> None:
        expect(
            not same(x, x_train),
            "you trained on clean inputs: the denoiser's input is the "
            "noisy images, fit(x_noisy, x_clean, ...).",
        )
        expect(same(x, noisy_train), "the denoiser's input should be the noisy images x_noisy.")
        expect(
            same(y, x_train),
            "the target should be the clean images: fit(x_noisy, x_clean, "
            "...) (the slides: recover x from x~).",
        )

    calls = spy_on_fit(net, noisy_to_clean)
    history = train_fn(net, noisy_train.copy(), x_train.copy(), budget.epochs, budget.batch_size)
    return {"model": net, "history": history_facts(history), "fit_calls": len(calls)}
