"""Seeded wrong answers: plausible mistakes for every graded exercise of every lab.

``WRONG_ANSWERS[lab][solution_grade_id]`` is a list of ``(name, code)``: ``code`` replaces
that solution cell in an otherwise solved submission. The grading tests require each one
to lose the points of its own exercise and only those (tests/course_grading/test_wrong_answers.py runs
them through nbgrader; tests/course/test_checks.py runs them through the test cells directly).
Names say what the mistake is.
"""

from __future__ import annotations

LAB01 = {
    "ex1_solution": [
        ("unseeded", '''
def fraction_in_ball_mc(d, n, seed):
    rng = np.random.default_rng()  # seed ignored: a new answer every run
    points = rng.uniform(-1.0, 1.0, size=(n, d))
    return float(np.mean(np.sum(points**2, axis=1) <= 1.0))
'''),
        ("gaussian_points", '''
def fraction_in_ball_mc(d, n, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, d))  # not uniform in the cube
    return float(np.mean(np.sum(points**2, axis=1) <= 1.0))
'''),
        ("count_not_fraction", '''
def fraction_in_ball_mc(d, n, seed):
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, d))
    return int(np.sum(np.sum(points**2, axis=1) <= 1.0))
'''),
    ],
    "ex2_solution": [
        ("slides_half_power", '''
def fraction_in_ball_exact(d):
    return 0.5**d
'''),
        ("ball_volume_only", '''
def fraction_in_ball_exact(d):
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1)
'''),
        ("gamma_off_by_one", '''
def fraction_in_ball_exact(d):
    return math.pi ** (d / 2) / math.gamma(d / 2) / 2**d
'''),
    ],
    "ex3_solution": [
        ("not_centred", '''
def fit_pca(x, k):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    covariance = x.T @ x / (len(x) - 1)  # forgot to subtract the mean
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    return mean, eigenvectors[:, order[:k]], eigenvalues[order]
'''),
        ("ascending_order", '''
def fit_pca(x, k):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(x - mean, rowvar=False))
    return mean, eigenvectors[:, :k], eigenvalues  # eigh sorts ascending: the smallest k
'''),
        ("eigenvectors_as_rows", '''
def fit_pca(x, k):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(x - mean, rowvar=False))
    order = np.argsort(eigenvalues)[::-1]
    return mean, eigenvectors[order[:k]], eigenvalues[order]  # rows, not columns
'''),
    ],
    "ex4_solution": [
        ("encode_without_mean", '''
def pca_encode(x, mean, V):
    return np.asarray(x) @ V


def pca_decode(c, mean, V):
    return mean + np.asarray(c) @ V.T
'''),
        ("decode_without_mean", '''
def pca_encode(x, mean, V):
    return (np.asarray(x) - mean) @ V


def pca_decode(c, mean, V):
    return np.asarray(c) @ V.T
'''),
        ("column_vector_formula", '''
def pca_encode(x, mean, V):
    return V.T @ (np.asarray(x) - mean).T  # the slides' c = V^T (x - mean), one column each


def pca_decode(c, mean, V):
    return mean + np.asarray(c) @ V.T
'''),
    ],
    "ex5_solution": [
        ("ratio_to_the_rest", '''
def explained_variance_ratio(eigenvalues, k):
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    return float(eigenvalues[:k].sum() / eigenvalues[k:].sum())
'''),
        ("only_the_kth", '''
def explained_variance_ratio(eigenvalues, k):
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    return float(eigenvalues[k - 1] / eigenvalues.sum())
'''),
        ("smallest_k", '''
def explained_variance_ratio(eigenvalues, k):
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    return float(eigenvalues[-k:].sum() / eigenvalues.sum())
'''),
    ],
    "ex6_solution": [
        ("fit_on_test", '''
def pca_error_by_k(x_train, x_test, ks):
    errors = []
    for k in ks:
        fitted = pca.fit_pca(x_test, k)
        errors.append(np.mean((x_test - fitted.decode(fitted.encode(x_test))) ** 2))
    return np.array(errors)
'''),
        ("error_on_train", '''
def pca_error_by_k(x_train, x_test, ks):
    errors = []
    for k in ks:
        fitted = pca.fit_pca(x_train, k)
        errors.append(np.mean((x_train - fitted.decode(fitted.encode(x_train))) ** 2))
    return np.array(errors)
'''),
        ("sum_per_image", '''
def pca_error_by_k(x_train, x_test, ks):
    errors = []
    for k in ks:
        fitted = pca.fit_pca(x_train, k)
        errors.append(np.mean(np.sum((x_test - fitted.decode(fitted.encode(x_test))) ** 2, axis=1)))
    return np.array(errors)
'''),
    ],
}

LAB02 = {
    "ex1_solution": [
        ("unshared_decoder", '''
def build_dense_autoencoder(input_dim, code_size):
    x = keras.Input(shape=(input_dim,))
    encoder = keras.Model(x, layers.Dense(code_size, activation="relu")(x))
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, layers.Dense(input_dim, activation="sigmoid")(z))
    code = layers.Dense(code_size, activation="relu")(x)  # a second copy of each layer
    autoencoder = keras.Model(x, layers.Dense(input_dim, activation="sigmoid")(code))
    return encoder, decoder, autoencoder
'''),
        ("linear_code", '''
def build_dense_autoencoder(input_dim, code_size):
    to_code = layers.Dense(code_size)
    to_image = layers.Dense(input_dim, activation="sigmoid")
    x = keras.Input(shape=(input_dim,))
    encoder = keras.Model(x, to_code(x))
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''),
        ("relu_output", '''
def build_dense_autoencoder(input_dim, code_size):
    to_code = layers.Dense(code_size, activation="relu")
    to_image = layers.Dense(input_dim, activation="relu")
    x = keras.Input(shape=(input_dim,))
    encoder = keras.Model(x, to_code(x))
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''),
    ],
    "ex2_solution": [
        ("one_number", '''
def reconstruction_errors(x, x_hat):
    return float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
'''),
        ("absolute_error", '''
def reconstruction_errors(x, x_hat):
    diff = np.asarray(x, dtype=np.float64) - np.asarray(x_hat, dtype=np.float64)
    return np.abs(diff).reshape(len(diff), -1).mean(axis=1)
'''),
        ("flat_images_only", '''
def reconstruction_errors(x, x_hat):
    return ((np.asarray(x) - np.asarray(x_hat)) ** 2).mean(axis=-1)
'''),
    ],
    "ex3_solution": [
        ("upside_down", '''
def compression_factor(input_dim, code_size):
    return code_size / input_dim
'''),
        ("integer_division", '''
def compression_factor(input_dim, code_size):
    return input_dim // code_size
'''),
        ("hard_coded_784", '''
def compression_factor(input_dim, code_size):
    return 784 / code_size  # right only for 784-pixel images: caught by the hidden test
'''),
    ],
    "ex4_solution": [
        ("kernel_regularizer", '''
def build_sparse_autoencoder(input_dim, code_size, l1):
    to_code = layers.Dense(code_size, activation="relu",
                           kernel_regularizer=keras.regularizers.L1(l1))  # penalises weights
    to_image = layers.Dense(input_dim, activation="sigmoid")
    x = keras.Input(shape=(input_dim,))
    encoder = keras.Model(x, to_code(x))
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''),
        ("penalty_on_output", '''
def build_sparse_autoencoder(input_dim, code_size, l1):
    to_code = layers.Dense(code_size, activation="relu")
    to_image = layers.Dense(input_dim, activation="sigmoid",
                            activity_regularizer=keras.regularizers.L1(l1))
    x = keras.Input(shape=(input_dim,))
    encoder = keras.Model(x, to_code(x))
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''),
        ("l2_penalty", '''
def build_sparse_autoencoder(input_dim, code_size, l1):
    to_code = layers.Dense(code_size, activation="relu",
                           activity_regularizer=keras.regularizers.L2(l1))
    to_image = layers.Dense(input_dim, activation="sigmoid")
    x = keras.Input(shape=(input_dim,))
    encoder = keras.Model(x, to_code(x))
    z = keras.Input(shape=(code_size,))
    decoder = keras.Model(z, to_image(z))
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''),
    ],
    "ex5_solution": [
        ("exact_zeros_only", '''
def fraction_inactive(z, tol=0.1):
    return float(np.mean(np.asarray(z) == 0))
'''),
        ("active_fraction", '''
def fraction_inactive(z, tol=0.1):
    return float(np.mean(np.abs(np.asarray(z)) > tol))
'''),
        ("count_not_fraction", '''
def fraction_inactive(z, tol=0.1):
    return int(np.sum(np.abs(np.asarray(z)) <= tol))
'''),
    ],
}

_DEEP = '''
def build_deep_autoencoder(input_dim, hidden, code_size):
    down = [layers.Dense(n, activation={act!r}) for n in {down}]
    to_code = layers.Dense(code_size, activation={act!r})
    up = [layers.Dense(n, activation={act!r}) for n in {up}]
    to_image = layers.Dense(input_dim, activation="sigmoid")
    x = keras.Input(shape=(input_dim,))
    h = x
    for layer in [*down, to_code]:
        h = layer(h)
    encoder = keras.Model(x, h)
    z = keras.Input(shape=(code_size,))
    h = z
    for layer in [*up, to_image]:
        h = layer(h)
    decoder = keras.Model(z, h)
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''

_CONV = '''
def build_conv_autoencoder(image_shape):
    down = [
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2, padding="same"),
    ]
    up = [
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.UpSampling2D(2),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.UpSampling2D(2),
        layers.Conv2D(16, 3, activation="relu", padding={padding!r}),
        layers.UpSampling2D(2),
        layers.Conv2D({channels}, 3, activation={out!r}, padding="same"),
    ]
    x = keras.Input(shape=image_shape)
    h = x
    for layer in down:
        h = layer(h)
    encoder = keras.Model(x, h)
    z = keras.Input(shape=(4, 4, 8))
    h = z
    for layer in up:
        h = layer(h)
    decoder = keras.Model(z, h)
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''

_TRAIN = '''
def train_autoencoder(autoencoder, x_train, x_val, epochs, batch_size):
    autoencoder.compile(optimizer={optimizer!r}, loss={loss!r})
    return autoencoder.fit(x_train, x_train, epochs={epochs}, batch_size=batch_size,
                           validation_data=(x_val, x_val), verbose=2)
'''

LAB03 = {
    "ex1_solution": [
        ("decoder_not_mirrored", _DEEP.format(act="relu", down="hidden", up="hidden")),
        ("sigmoid_everywhere", _DEEP.format(act="sigmoid", down="hidden", up="reversed(hidden)")),
        ("ignores_hidden", _DEEP.format(act="relu", down="(128, 64)", up="(64, 128)")),
    ],
    "ex2_solution": [
        ("all_same_padding", _CONV.format(padding="same", channels="image_shape[-1]", out="sigmoid")),
        ("relu_output", _CONV.format(padding="valid", channels="image_shape[-1]", out="relu")),
        ("one_channel_output", _CONV.format(padding="valid", channels="1", out="sigmoid")),
    ],
    "ex3_solution": [
        ("dense_without_biases", '''
def dense_params(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def conv2d_params(kernel_size, in_channels, out_channels):
    return kernel_size * kernel_size * in_channels * out_channels + out_channels
'''),
        ("conv_ignores_in_channels", '''
def dense_params(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def conv2d_params(kernel_size, in_channels, out_channels):
    return kernel_size * kernel_size * out_channels + out_channels
'''),
        ("conv_kernel_not_squared", '''
def dense_params(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def conv2d_params(kernel_size, in_channels, out_channels):
    return kernel_size * in_channels * out_channels + out_channels
'''),
    ],
    "ex4_solution": [
        ("adadelta_as_on_slides", _TRAIN.format(optimizer="adadelta", loss="binary_crossentropy",
                                                epochs="epochs")),
        ("categorical_crossentropy", _TRAIN.format(optimizer="adam", loss="categorical_crossentropy",
                                                   epochs="epochs")),
        ("one_epoch", _TRAIN.format(optimizer="adam", loss="binary_crossentropy", epochs="1")),
    ],
}

_MASK = '''
def mask_square(x, size, seed):
    rng = np.random.default_rng(seed)
    n, h, w = x.shape[:3]
    mask = np.zeros((n, h, w), dtype=bool)
    {first}
    for i in range(n):
        {each}
        mask[i, top:top + size, left:left + size] = True
    masked = {copy}
    masked[mask] = 0.0
    return masked, mask
'''

_DENOISE = '''
def train_denoiser(model, x_noisy, x_clean, epochs, batch_size):
    model.compile(optimizer={optimizer!r}, loss="binary_crossentropy")
    return model.fit({x}, {y}, epochs=epochs, batch_size=batch_size, verbose=2)
'''

LAB04 = {
    "ex1_solution": [
        ("not_clipped", '''
def add_gaussian_noise(x, std, seed):
    rng = np.random.default_rng(seed)
    return x + rng.normal(0.0, std, size=np.shape(x))
'''),
        ("modifies_input", '''
def add_gaussian_noise(x, std, seed):
    rng = np.random.default_rng(seed)
    x += rng.normal(0.0, std, size=np.shape(x)).astype(x.dtype)
    np.clip(x, 0.0, 1.0, out=x)
    return x
'''),
        ("unseeded", '''
def add_gaussian_noise(x, std, seed):
    return np.clip(x + np.random.normal(0.0, std, size=np.shape(x)), 0.0, 1.0)
'''),
    ],
    "ex2_solution": [
        ("added_not_blended", '''
def add_watermark(x, mark, opacity):
    m = mark if np.ndim(x) == 3 else mark[..., None]
    return np.clip(x + opacity * m, 0.0, 1.0)
'''),
        ("no_channel_axis", '''
def add_watermark(x, mark, opacity):
    return (1 - opacity * mark) * x + opacity * mark
'''),
        ("modifies_input", '''
def add_watermark(x, mark, opacity):
    m = mark if np.ndim(x) == 3 else mark[..., None]
    x *= 1 - opacity * m
    x += opacity * m
    return x
'''),
    ],
    "ex3_solution": [
        ("same_square_for_all", _MASK.format(
            first="top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)",
            each="pass", copy="np.array(x, copy=True)")),
        ("square_may_leave_image", _MASK.format(
            first="pass", each="top, left = rng.integers(0, h), rng.integers(0, w)",
            copy="np.array(x, copy=True)")),
        ("modifies_input", _MASK.format(
            first="pass",
            each="top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)",
            copy="x")),
    ],
    "ex4_solution": [
        ("plain_autoencoder", _DENOISE.format(optimizer="adam", x="x_clean", y="x_clean")),
        ("input_and_target_swapped", _DENOISE.format(optimizer="adam", x="x_clean", y="x_noisy")),
        ("adadelta_as_on_slides", _DENOISE.format(optimizer="adadelta", x="x_noisy", y="x_clean")),
    ],
}

_LATENT = '''
def build_latent_2d_autoencoder(input_dim, hidden):
    down = [layers.Dense(n, activation="relu") for n in hidden]
    to_code = layers.Dense(2{code_activation})
    up = [layers.Dense(n, activation="relu") for n in {up}]
    to_image = layers.Dense(input_dim, activation="sigmoid")
    x = keras.Input(shape=(input_dim,))
    h = x
    for layer in [*down, to_code]:
        h = layer(h)
    encoder = keras.Model(x, h)
    z = keras.Input(shape=(2,))
    h = z
    for layer in {decoder_layers}:
        h = layer(h)
    decoder = keras.Model(z, h)
    return encoder, decoder, keras.Model(x, decoder(encoder(x)))
'''

_PR = '''
def precision_recall(val_errors, test_errors, test_is_anomaly, quantile):
    L = {threshold}
    flagged = np.asarray(test_errors) {op} L
    truth = np.asarray(test_is_anomaly, dtype=bool)
    tp = np.sum(flagged & truth)
    precision = tp / flagged.sum() if flagged.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    return {result}
'''

LAB05 = {
    "ex1_solution": [
        ("relu_code", _LATENT.format(code_activation=', activation="relu"', up="reversed(hidden)",
                                     decoder_layers="[*up, to_image]")),
        ("decoder_not_mirrored", _LATENT.format(code_activation="", up="hidden",
                                                decoder_layers="[*up, to_image]")),
        ("unshared_decoder", '''
def build_latent_2d_autoencoder(input_dim, hidden):
    def stack(widths, last, activation):
        return [*[layers.Dense(n, activation="relu") for n in widths],
                layers.Dense(last, activation=activation)]

    x = keras.Input(shape=(input_dim,))
    h = x
    for layer in stack(hidden, 2, None):
        h = layer(h)
    encoder = keras.Model(x, h)
    z = keras.Input(shape=(2,))
    h = z
    for layer in stack(reversed(hidden), input_dim, "sigmoid"):
        h = layer(h)
    decoder = keras.Model(z, h)
    h = encoder(x)
    for layer in stack(reversed(hidden), input_dim, "sigmoid"):  # a second, separate decoder
        h = layer(h)
    return encoder, decoder, keras.Model(x, h)
'''),
    ],
    "ex2_solution": [
        ("mixes_images", '''
def latent_walk(decoder, z_from, z_to, steps):
    ends = decoder.predict(np.stack([z_from, z_to]).astype("float32"), verbose=0)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * ends[0] + t * ends[1]  # blends two pictures instead of walking in Z
'''),
        ("end_excluded", '''
def latent_walk(decoder, z_from, z_to, steps):
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[:, None]
    points = (1 - t) * np.asarray(z_from) + t * np.asarray(z_to)
    return decoder.predict(points.astype("float32"), verbose=0)
'''),
        ("returns_codes", '''
def latent_walk(decoder, z_from, z_to, steps):
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * np.asarray(z_from) + t * np.asarray(z_to)
'''),
    ],
    "ex3_solution": [
        ("per_pixel_not_per_image", '''
def anomaly_scores(autoencoder, x):
    x_hat = autoencoder.predict(x, verbose=0)
    return ((x - x_hat) ** 2).mean(axis=0)
'''),
        ("absolute_error", '''
def anomaly_scores(autoencoder, x):
    x_hat = autoencoder.predict(x, verbose=0)
    return np.abs(x - x_hat).mean(axis=1)
'''),
        ("sum_not_mean", '''
def anomaly_scores(autoencoder, x):
    x_hat = autoencoder.predict(x, verbose=0)
    return ((x - x_hat) ** 2).sum(axis=1)
'''),
    ],
    "ex4_solution": [
        ("percentile_with_a_fraction", '''
def threshold_from_validation(val_errors, quantile):
    return float(np.percentile(val_errors, quantile))
'''),
        ("maximum", '''
def threshold_from_validation(val_errors, quantile):
    return float(np.max(val_errors))
'''),
        ("mean_plus_3_std", '''
def threshold_from_validation(val_errors, quantile):
    return float(np.mean(val_errors) + 3 * np.std(val_errors))
'''),
    ],
    "ex5_solution": [
        ("threshold_on_test_set", _PR.format(threshold="np.quantile(test_errors, quantile)", op=">",
                                             result="float(precision), float(recall)")),
        ("precision_recall_swapped", _PR.format(
            threshold="anomaly.threshold_from_validation(val_errors, quantile)", op=">",
            result="float(recall), float(precision)")),
        ("flags_below_threshold", _PR.format(
            threshold="anomaly.threshold_from_validation(val_errors, quantile)", op="<",
            result="float(precision), float(recall)")),
    ],
}

WRONG_ANSWERS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "lab01_curse_and_pca": LAB01,
    "lab02_dense_autoencoder": LAB02,
    "lab03_deep_and_conv": LAB03,
    "lab04_denoising": LAB04,
    "lab05_latent_and_anomaly": LAB05,
}


def wrong_answers(lab: str) -> list[tuple[str, str, str]]:
    """(solution grade_id, name, code) of every wrong answer of ``lab``."""
    return [(gid, name, code.strip("\n") + "\n")
            for gid, answers in WRONG_ANSWERS[lab].items() for name, code in answers]
