"""Where the course runs: device, seeds, and the training budget.

Notebooks never hard-code sample counts or epochs. They ask for a :class:`Budget`,
which has three scales:

* ``ci``  -- tests (``CI`` set) and nbgrader grading (``NBGRADER_EXECUTION`` set):
  seconds per notebook;
* ``cpu`` -- a student on a laptop: minutes per notebook;
* ``gpu`` -- a GPU runtime (e.g. Colab): the lecture's full scale.

``COURSE_BUDGET=ci|cpu|gpu`` overrides the choice.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass

import numpy as np

SEED = 0
SCALES = ("ci", "cpu", "gpu")


@dataclass(frozen=True)
class Budget:
    """How much data and training a notebook may use."""

    scale: str
    n_train: int
    n_val: int
    n_test: int
    epochs: int
    batch_size: int

    def describe(self) -> str:
        return (
            f"{self.scale}: train {self.n_train:,} / val {self.n_val:,} / test {self.n_test:,} "
            f"images, {self.epochs} epochs, batch {self.batch_size}"
        )


BUDGETS: dict[str, Budget] = {
    "ci": Budget("ci", n_train=2_000, n_val=500, n_test=500, epochs=5, batch_size=128),
    "cpu": Budget("cpu", n_train=50_000, n_val=10_000, n_test=10_000, epochs=10, batch_size=256),
    "gpu": Budget("gpu", n_train=50_000, n_val=10_000, n_test=10_000, epochs=50, batch_size=256),
}


def is_grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate)."""
    return os.environ.get("NBGRADER_EXECUTION", "") in {"autograde", "validate"}


def is_ci() -> bool:
    return os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def device_name() -> str:
    """'GPU (<name>)' or 'CPU (<n> cores)'."""
    if gpu_available():
        import tensorflow as tf

        gpu = tf.config.list_physical_devices("GPU")[0]
        details = tf.config.experimental.get_device_details(gpu)
        return f"GPU ({details.get('device_name', gpu.name)})"
    return f"CPU ({os.cpu_count()} cores)"


def budget_scale() -> str:
    """The scale this process should use: override, then CI/grading, then device."""
    override = os.environ.get("COURSE_BUDGET", "").strip().lower()
    if override:
        if override not in SCALES:
            raise ValueError(
                f"COURSE_BUDGET={override!r} is not a budget; use one of {', '.join(SCALES)}."
            )
        return override
    if is_ci() or is_grading():
        return "ci"
    return "gpu" if gpu_available() else "cpu"


def budget(scale: str | None = None) -> Budget:
    """The :class:`Budget` for ``scale`` (default: :func:`budget_scale`)."""
    scale = scale or budget_scale()
    if scale not in BUDGETS:
        raise ValueError(f"Unknown budget {scale!r}; use one of {', '.join(SCALES)}.")
    return BUDGETS[scale]


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy, and Keras/TensorFlow in one call."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import keras

    keras.utils.set_random_seed(seed)
    try:  # before Keras 3.13 the call leaves keras.random's global generator as it was
        from keras.src.backend.common import global_state

        global_state.set_global_attribute("global_seed_generator", None)
    except ImportError:
        pass


def versions() -> dict[str, str]:
    """Versions of the pieces the course depends on."""
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def setup(dataset: str | None = "fashion_mnist", seed: int = SEED) -> Budget:
    """Seed everything, print the runtime banner, and return the budget.

    Call this in the first code cell of every notebook.
    """
    from . import data

    seed_everything(seed)
    chosen = budget()
    lines = [
        f"device : {device_name()}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"budget : {chosen.describe()}",
        f"seed   : {seed}",
    ]
    if dataset:
        lines.append(f"data   : {data.describe_source(dataset)}")
    width = max(len(line) for line in lines)
    print("=" * width)
    print("\n".join(lines))
    print("=" * width)
    return chosen
