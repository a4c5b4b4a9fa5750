"""How a check's answer travels: data only, read back without trusting the folder it is in."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from course import checks, models
from course.checks.answers import (
    Failed,
    Other,
    StudentError,
    UnusableAnswer,
    attempt,
    close,
    is_number,
    load_model,
    read_answer,
    write_answer,
)


def round_trip(tmp_path: Path, data: dict, raised: BaseException | None = None):
    write_answer(tmp_path / "a", data, raised)
    return read_answer(tmp_path / "a", tmp_path)


def test_plain_data_comes_back_as_plain_data(tmp_path):
    class Mine:
        pass

    class Sneaky(float):
        def __eq__(self, other):
            return True

    data = {
        "n": 3,
        "x": 2.5,
        "flag": True,
        "s": "text",
        "none": None,
        "t": (1, [2.0, "a"]),
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "m": np.array([True, False]),
        "obj": Mine(),
        "sneaky": Sneaky(0.0),
        "np": np.float64(1.5),
        "fail": Failed("ValueError", "bad"),
    }
    got = round_trip(tmp_path, data).data
    assert got["n"] == 3 and type(got["n"]) is int and got["x"] == 2.5 and got["flag"] is True
    assert got["s"] == "text" and got["none"] is None and got["t"] == (1, [2.0, "a"])
    assert got["a"].dtype == np.float32 and got["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert got["m"].dtype == bool
    assert isinstance(got["obj"], Other) and got["obj"].type_name == "Mine"
    assert type(got["sneaky"]) is float and got["sneaky"] == 0.0 and not close(got["sneaky"], 24.5)
    assert got["np"] == 1.5 and is_number(got["np"])
    with pytest.raises(StudentError, match="ValueError: bad"):
        is_number(got["fail"])


def test_attempt_keeps_the_students_exception():
    def broken():
        raise ZeroDivisionError("division by zero")

    assert attempt(broken) == Failed("ZeroDivisionError", "division by zero")
    assert attempt(lambda: 5) == 5


def test_a_raised_answer_says_what_was_raised(tmp_path):
    answer = round_trip(tmp_path, {}, NotImplementedError("todo"))
    assert answer.raised == ("NotImplementedError", "todo")
    with pytest.raises(StudentError, match="NotImplementedError: todo"):
        checks.check_compression_factor.judge_answer(answer, checks.check_compression_factor.params({}))


def test_a_link_anywhere_on_the_way_is_refused(tmp_path):
    write_answer(tmp_path / "real", {"x": 1.0})
    (tmp_path / "kernel").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "kernel" / "a")
    with pytest.raises(UnusableAnswer, match="no answer"):
        read_answer(tmp_path / "kernel" / "a", tmp_path)
    os.symlink(tmp_path, tmp_path / "linked")
    with pytest.raises(UnusableAnswer, match="no answer"):
        read_answer(tmp_path / "linked" / "real", tmp_path)
    folder = tmp_path / "b"
    write_answer(folder, {"x": 1.0})
    (folder / "answer.json").unlink()
    os.symlink("/etc/hostname", folder / "answer.json")
    with pytest.raises(UnusableAnswer, match="not a plain file"):
        read_answer(folder, tmp_path)


def test_malformed_and_huge_answers_are_refused(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "answer.json").write_text('{"t": "list", "items": [' * 3000 + "]}" * 3000)
    with pytest.raises(UnusableAnswer):
        read_answer(folder, tmp_path)
    (folder / "answer.json").write_text(
        json.dumps(
            {
                "format": 1,
                "raised": None,
                "data": {"t": "dict", "items": {"a": {"t": "array", "file": "v1.npy"}}},
            }
        )
    )
    (folder / "v1.npy").write_bytes(
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
        b"'shape': (1000000000, 1000000000), }".ljust(118)
        + b"\n"
    )
    with pytest.raises(UnusableAnswer, match="damaged"):
        read_answer(folder, tmp_path)
    (folder / "v1.npy").write_bytes(b"x" * 10)
    (folder / "v2.npy").write_bytes(b"")
    os.mkfifo(folder / "pipe")
    with pytest.raises(UnusableAnswer, match="not a plain file"):
        read_answer(folder, tmp_path)


def _keras_file(path: Path, config: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", "{}")
    return path


@pytest.mark.parametrize(
    "config, says",
    [
        (
            {"module": "os", "class_name": "system", "config": {}, "registered_name": "system"},
            "not one of Keras",
        ),
        ({"module": "keras.layers", "class_name": "Lambda", "config": {"function": "x"}}, "Lambda"),
        ({"module": "builtins", "class_name": "Dense", "config": {}}, "code from the module"),
        (
            {"module": "keras.layers", "class_name": "Dense", "registered_name": "evil>Dense", "config": {}},
            "custom object",
        ),
        (
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {"units": 10**7},
                "build_config": {"input_shape": [None, 1000]},
            },
            "parameters",
        ),
    ],
)
def test_model_files_with_foreign_code_or_huge_sizes_are_refused(tmp_path, config, says):
    with pytest.raises(UnusableAnswer, match=says):
        load_model(_keras_file(tmp_path / "m.keras", config))


def test_a_real_model_loads_and_keeps_its_regularizer(tmp_path):
    _, _, autoencoder = models.dense_autoencoder(20, 4, l1=0.5)
    got = round_trip(tmp_path, {"m": autoencoder}).data["m"]
    assert isinstance(got, keras.Model) and got.count_params() == autoencoder.count_params()
    x = np.ones((2, 20), "float32")
    got(x)
    assert len(got.losses) == 1
