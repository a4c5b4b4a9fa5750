"""Faster training, same results: the options the course passes to ``model.compile``.

Keras trains one batch per call from Python into TensorFlow. For the course's small
models that call costs as much as the arithmetic: a batch of 256 images through the dense
784-32-784 autoencoder is 77 MFLOP of training, a fraction of a millisecond at this CPU's
matmul peak, but a default step takes several (``benchmarks/REPORT.md``, section 1).

``steps_per_execution=32`` runs 32 batches per call. The batches, their order and the
arithmetic stay the same, so the weights, losses and history are the same to the last bit
(measured on every model of the course); callbacks still see every epoch, their per-batch
hooks every 32nd batch. Keras before 3.7 got it wrong (validation losses divided by the
steps per call, missing or empty histories, crashes when an epoch has fewer batches;
keras-team/keras#20390, fixed by #20396), so there the defaults are kept.

The loop of 32 steps has a price: Keras traces it into a graph once per model, which costs
more than the calls it saves when an epoch is short. At the ``ci`` budget (tests and
grading: 2,000 images at batch 128, 16 batches an epoch), five epochs with validation and a
predict, in alternating fresh processes on 2 cores: the conv autoencoder took 14.3 s with the
defaults against 18.1 s with 32 steps per call (medians of 4 pairs; the defaults were faster
in every pair), the dense 784-32-784 one 2.75 against 2.97 core-s (means of 5 pairs). So the
option is used only where an epoch of the budget has at least 32 batches (``cpu``, ``gpu``: 196).

XLA (``jit_compile=True``) was measured too and is not used: it changes float rounding,
which grows during training to differences as large as another seed's on some of the
course's models, and on a CPU it slows convolutions and input noise down.
"""

from __future__ import annotations

import math
import os
import re

import keras

from . import runtime
from .runtime import Budget

STEPS_PER_EXECUTION = 32
FIRST_RIGHT_KERAS = (3, 7)
SWITCH = "COURSE_FAST_TRAINING"  # set it to 0 for Keras' defaults


def training_options(budget: Budget | None = None) -> dict[str, int]:
    """Keyword arguments for ``model.compile``: faster training, the same results.

    ``{}`` (Keras' defaults) when ``COURSE_FAST_TRAINING=0``, on Keras before 3.7, on a
    backend other than TensorFlow, or when an epoch of ``budget`` (default: this runtime's,
    :func:`course.runtime.budget`) has fewer than 32 batches.
    """
    if os.environ.get(SWITCH, "1").strip().lower() in {"0", "false", "no", "off"}:
        return {}
    if batches_per_epoch(budget or runtime.budget()) < STEPS_PER_EXECUTION:
        return {}
    if keras.backend.backend() != "tensorflow" or keras_version() < FIRST_RIGHT_KERAS:
        return {}
    return {"steps_per_execution": STEPS_PER_EXECUTION}


def batches_per_epoch(budget: Budget) -> int:
    """Training batches in one epoch of ``budget``."""
    return math.ceil(budget.n_train / budget.batch_size)


def keras_version() -> tuple[int, int]:
    """(major, minor) of the installed Keras, e.g. (3, 15)."""
    major, minor = re.match(r"(\d+)\.(\d+)", keras.__version__).groups()
    return int(major), int(minor)
