"""What the training checks of labs 03 and 04 share.

The student's function trains a model the check builds; ``ask`` keeps the trained model,
what ``fit`` was given and what it returned. ``judge`` measures the model on test images
that the student's kernel never sees while it is graded (:func:`course.data.held_out_test`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .answers import expect, same, short_type


def spy_on_fit(model, validate: Callable) -> list[int]:
    """Count ``model.fit`` calls; ``validate(x, y)`` may stop a call on the wrong data early."""
    calls: list[int] = []
    original = model.fit

    def fit(*args, **kwargs):
        x = kwargs.get("x", args[0] if args else None)
        y = kwargs.get("y", args[1] if len(args) > 1 else None)
        calls.append(1)
        validate(x, y)
        return original(*args, **kwargs)

    model.fit = fit
    return calls


def fit_data_is(x, y, want_x, want_y) -> tuple[bool, bool]:
    return same(x, want_x), same(y, want_y)


def history_facts(result) -> dict:
    """What the judge needs of ``fit``'s return value: its type, epochs and logged keys."""
    import keras

    if not isinstance(result, keras.callbacks.History):
        return {"is_history": False, "type": type(result).__name__}
    return {"is_history": True, "epochs": len(result.epoch), "keys": sorted(map(str, result.history))}


def judge_history(facts: dict, epochs: int, need_val: bool) -> None:
    expect(
        bool(facts.get("is_history")),
        f"return what model.fit returns (a History), not {facts.get('type', short_type(facts))}.",
    )
    expect(
        facts.get("epochs") == epochs,
        f"train for the `epochs` you are given ({epochs}); yours trained {facts.get('epochs')}.",
    )
    if need_val:
        expect(
            "val_loss" in facts.get("keys", []),
            "pass validation_data=(x_val, x_val) to fit, so the history has a 'val_loss'.",
        )


def trained_model(data: dict, reference, what: str):
    """The trained model of the answer, checked to be the one the check handed out."""
    import keras

    model = data.get("model")
    expect(isinstance(model, keras.Model), f"the {what} could not be read back after training.")
    expect(
        model.count_params() == reference.count_params()
        and [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in reference.weights],
        f"train the {what} you are given; the trained model is not that network.",
    )
    return model


def predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0, batch_size=256), dtype=np.float64)
