"""A check in two halves: *ask* the student's functions, then *judge* what they gave.

``ask`` calls the student's functions and returns what they gave as a dict of plain data:
numbers, text, NumPy arrays, tuples and lists of them, and Keras models. ``judge`` decides
from that data alone and raises ``AssertionError`` with a message in the student's terms.

In a student's own notebook a check runs both halves in the student's kernel, one after
the other, and the answer goes through a folder on the way (NumPy files read without
pickle, Keras models loaded in safe mode), exactly as when an instructor grades. While
grading, only ``ask`` runs in the student's kernel: the grader reads the answer's folder
and judges it in a process of its own, which the student's code cannot reach.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import math
import os
import re
import stat
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANSWER_FILE = "answer.json"
MAX_FILE_BYTES = 64 * 2**20  # one array or model
MAX_TOTAL_BYTES = 256 * 2**20  # one answer
MAX_JSON_BYTES = 2**20
MAX_FILES = 64
MAX_ITEMS = 256  # values in one answer, nested ones included
MAX_MODEL_PARAMS = 5_000_000  # the labs' largest model has about 0.5 million
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


# --------------------------------------------------------------------------- messages


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` (what is wrong and what to change) unless ``condition``."""
    if not condition:
        raise AssertionError(message)


def passed(what: str) -> None:
    print(f"OK: {what}")


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Keep library noise off stderr while a check runs.

    nbgrader gives a test cell 0 points when its output has anything on stderr, and
    TensorFlow writes there on its own (C++ log lines, retracing warnings). A check's
    verdict is its exception, never its stderr.
    """
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl", "keras")]
    levels = [logger.level for logger in loggers]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for logger in loggers:
                    logger.setLevel(logging.CRITICAL + 1)
                yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
            os.dup2(saved, 2)
            os.close(saved)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Other:
    """A value that is not plain data (an object of the student's own class, a function...)."""

    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


@dataclass(frozen=True)
class Failed:
    """What a student's function raised instead of returning (see :func:`attempt`)."""

    type_name: str
    message: str


def attempt(fn: Callable, *args):
    """``fn(*args)``, or a :class:`Failed` if it raises: the judge raises it where it needs the value.

    ``ask`` uses this for every call after the first, so a judge fails on the first thing
    wrong in the order it checks, as if it had called the function itself.
    """
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - the student's exception is the answer
        return Failed(type(err).__name__, str(err)[:2000])


def unwrap(value):
    """``value``, or raise the student's exception if it is a :class:`Failed`."""
    if isinstance(value, Failed):
        raise StudentError(value.type_name, value.message)
    return value


def type_name(value) -> str:
    """``<class 'list'>`` for a list; the student's own type name for an :class:`Other`."""
    value = unwrap(value)
    return f"<class '{value.type_name}'>" if isinstance(value, Other) else str(type(value))


def short_type(value) -> str:
    """``list`` for a list; the student's own type name for an :class:`Other`."""
    value = unwrap(value)
    return value.type_name if isinstance(value, Other) else type(value).__name__


def is_number(value) -> bool:
    """A plain number (not a bool), or a NumPy array holding one."""
    value = unwrap(value)
    if isinstance(value, np.ndarray):
        return value.shape == () and value.dtype.kind in "iuf"
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def as_float(value) -> float:
    """The number a checked value holds, as a Python float (NaN when there is none)."""
    value = unwrap(value)
    try:
        return float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return math.nan


def as_array(value) -> np.ndarray | None:
    """A float64 array of a checked value, or None when it holds no numbers."""
    value = unwrap(value)
    if isinstance(value, Other) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def close(a, b, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Same shape and the same numbers within the tolerance, compared as float64."""
    a, b = as_array(a), as_array(b)
    return (
        a is not None
        and b is not None
        and a.shape == b.shape
        and bool(np.allclose(a, b, rtol=rtol, atol=atol))
    )


def same(a, b) -> bool:
    """Same shape and values (to float32 precision), compared as float64."""
    return close(a, b, rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- writing (kernel side)


def _is_keras_model(value) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


class _Writer:
    def __init__(self, folder: Path):
        self.folder, self.files, self.items = folder, 0, 0

    def file(self, suffix: str) -> Path:
        self.files += 1
        return self.folder / f"v{self.files}{suffix}"

    def encode(self, value, depth: int = 0) -> dict:
        self.items += 1
        if self.items > MAX_ITEMS or depth > 4:
            return {"t": "other", "type": "too many values"}
        name = type(value).__name__
        if value is None:
            return {"t": "none"}
        if isinstance(value, Failed):
            return {"t": "failed", "type": value.type_name, "message": value.message}
        if isinstance(value, (bool, np.bool_)):
            return {"t": "bool", "v": bool(value)}
        if isinstance(value, (int, np.integer)):
            return {"t": "int", "v": int(value), "type": name}
        if isinstance(value, (float, np.floating)):
            return {"t": "float", "v": float(value), "type": name}
        if isinstance(value, str):
            return {"t": "str", "v": str(value)[:4000]}
        if isinstance(value, (tuple, list)):
            kind = "tuple" if isinstance(value, tuple) else "list"
            if len(value) > 64:
                return self.array(value, name)
            return {"t": kind, "type": name, "items": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            keys = [k for k in value if isinstance(k, str)][:64]
            return {"t": "dict", "items": {k: self.encode(value[k], depth + 1) for k in keys}}
        if _is_keras_model(value):
            path = self.file(".keras")
            try:
                value.save(path)
            except Exception as err:  # noqa: BLE001 - reported to the judge as a reason
                return {"t": "other", "type": name, "why": f"Keras could not save it: {err}"[:300]}
            return {"t": "model", "file": path.name, "type": name}
        return self.array(value, name)

    def array(self, value, name: str) -> dict:
        try:
            array = np.asarray(value)
        except Exception:  # noqa: BLE001 - not array-like
            return {"t": "other", "type": name}
        if array.dtype.kind not in "biuf" or array.nbytes > MAX_FILE_BYTES:
            return {"t": "other", "type": name}
        path = self.file(".npy")
        np.save(path, array, allow_pickle=False)
        return {"t": "array", "file": path.name, "type": name}


def write_answer(folder: Path, data: dict, raised: BaseException | None = None) -> None:
    """Save what ``ask`` returned (or the exception it raised) into the empty ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Writer(folder)
    entry = {"format": 1, "data": writer.encode(dict(data or {})), "raised": None}
    if raised is not None:
        entry["raised"] = {"type": type(raised).__name__, "message": str(raised)[:4000]}
    (folder / ANSWER_FILE).write_text(json.dumps(entry))


# --------------------------------------------------------------------------- reading (judge side)


class UnusableAnswer(Exception):
    """The answer's folder is not what ``write_answer`` makes (missing, too big, odd files)."""


def _open_folder(folder: Path, base: Path | None) -> int:
    """A descriptor of ``folder``, reached from ``base`` (a folder the grader trusts) without
    following a symbolic link on the way: the student's kernel may have replaced any part of it."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    if base is None:
        return os.open(folder, flags)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in Path(folder).relative_to(base).parts:
            next_fd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_files(folder: Path, base: Path | None = None) -> dict[str, bytes]:
    """Every regular file directly in ``folder``; symbolic links, folders and devices refused."""
    try:
        fd = _open_folder(folder, base)
    except (OSError, ValueError):
        raise UnusableAnswer(
            "the notebook gave no answer to this test (did a cell stop it, or change how cells run?)"
        ) from None
    try:
        names = os.listdir(fd)
        if len(names) > MAX_FILES:
            raise UnusableAnswer(f"{len(names)} files in the answer (at most {MAX_FILES})")
        out, total = {}, 0
        for name in names:
            if not NAME.match(name):
                raise UnusableAnswer("a file with an unexpected name in the answer")
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                raise UnusableAnswer("the answer holds something that is not a plain file")
            total += info.st_size
            if info.st_size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                raise UnusableAnswer("the answer is too large")
            file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
            with os.fdopen(file_fd, "rb") as f:
                out[name] = f.read(MAX_FILE_BYTES + 1)
        return out
    finally:
        os.close(fd)


KERAS_CLASSES = {
    "Functional",
    "Sequential",
    "Model",
    "InputLayer",
    "Dense",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling2D",
    "UpSampling1D",
    "UpSampling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "BatchNormalization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "Softmax",
    "GaussianNoise",
    "GaussianDropout",
    "ActivityRegularization",
    "Add",
    "Concatenate",
    "Cropping2D",
    "ZeroPadding2D",
    "GlobalAveragePooling2D",
    "Rescaling",
    "Identity",
    "Embedding",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "RepeatVector",
    "TimeDistributed",
    "DTypePolicy",
    "FloatDTypePolicy",
    "Policy",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "GlorotUniform",
    "GlorotNormal",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "Orthogonal",
    "VarianceScaling",
    "MaxNorm",
    "NonNeg",
    "UnitNorm",
    "MinMaxNorm",
    "__keras_tensor__",
}


def _vet_config(node, found: list[str], params: list[int]) -> None:
    """Refuse configs that name anything but Keras' own building blocks, or are too large."""
    if isinstance(node, dict):
        if "class_name" in node:
            module, cls = node.get("module"), node.get("class_name")
            registered = node.get("registered_name")
            if not isinstance(cls, str) or cls not in KERAS_CLASSES:
                found.append(f"a {str(cls)[:40]!r} object, which is not one of Keras' own layers")
            if module is not None and not (isinstance(module, str) and module.split(".")[0] == "keras"):
                found.append(f"code from the module {str(module)[:40]!r}")
            if registered not in (None, cls):
                found.append(f"a custom object {str(registered)[:40]!r}")
            shape = (
                (node.get("build_config") or {}).get("input_shape")
                if isinstance(node.get("build_config"), dict)
                else None
            )
            config = node.get("config") if isinstance(node.get("config"), dict) else {}
            width = shape[-1] if isinstance(shape, list) and shape and isinstance(shape[-1], int) else 0
            if cls == "Dense" and isinstance(config.get("units"), int):
                params.append((width + 1) * config["units"])
            if cls in {"Conv1D", "Conv2D", "Conv2DTranspose"} and isinstance(config.get("filters"), int):
                kernel = config.get("kernel_size") or [1]
                size = math.prod(k for k in kernel if isinstance(k, int)) if isinstance(kernel, list) else 1
                params.append((size * max(width, 1) + 1) * config["filters"])
        for key, value in node.items():
            if key != "compile_config":  # how it was compiled: never read (compile=False)
                _vet_config(value, found, params)
    elif isinstance(node, list):
        for value in node:
            _vet_config(value, found, params)


def load_model(path: Path):
    """A Keras model from a ``.keras`` file, after checking it holds only Keras' own layers."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {i.filename: i for i in archive.infolist()}
            unknown = set(members) - {"metadata.json", "config.json", "model.weights.h5"}
            if unknown or "config.json" not in members:
                raise UnusableAnswer("the saved model holds unexpected files")
            if (
                members["config.json"].file_size > MAX_JSON_BYTES
                or sum(i.file_size for i in members.values()) > MAX_FILE_BYTES * 2
            ):
                raise UnusableAnswer("the saved model is too large")
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, ValueError, KeyError) as err:
        raise UnusableAnswer(f"the model file is damaged ({str(err)[:100]})") from None
    found: list[str] = []
    params: list[int] = []
    _vet_config(config, found, params)
    if found:
        raise UnusableAnswer(
            "the model uses " + "; ".join(sorted(set(found))[:3]) + ": build it from keras.layers only"
        )
    if sum(params) > MAX_MODEL_PARAMS:
        raise UnusableAnswer(
            f"the model has about {sum(params):,} parameters, more than this check's {MAX_MODEL_PARAMS:,}"
        )
    import keras

    with quiet_stderr():
        try:
            return keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as err:  # noqa: BLE001 - any failure to load is the answer's problem
            raise UnusableAnswer(f"Keras could not load the model: {str(err)[:200]}") from None


class _Reader:
    def __init__(self, files: dict[str, bytes], scratch: Path):
        self.files, self.scratch, self.items = files, scratch, 0

    def blob(self, entry: dict) -> bytes:
        name = entry.get("file")
        if not isinstance(name, str) or name not in self.files:
            raise UnusableAnswer("the answer names a file it does not hold")
        return self.files[name]

    def decode(self, entry, depth: int = 0):
        self.items += 1
        if not isinstance(entry, dict) or self.items > MAX_ITEMS or depth > 5:
            raise UnusableAnswer("the answer's description is malformed")
        kind = entry.get("t")
        if kind == "none":
            return None
        if kind in {"bool", "int", "float", "str"}:
            value = entry.get("v")
            convert = {"bool": bool, "int": int, "float": float, "str": str}[kind]
            if not isinstance(value, (bool, int, float, str)):
                raise UnusableAnswer("the answer's description is malformed")
            return convert(value)
        if kind in {"tuple", "list"}:
            items = entry.get("items")
            if not isinstance(items, list):
                raise UnusableAnswer("the answer's description is malformed")
            values = [self.decode(v, depth + 1) for v in items]
            return tuple(values) if kind == "tuple" else values
        if kind == "dict":
            items = entry.get("items")
            if not isinstance(items, dict):
                raise UnusableAnswer("the answer's description is malformed")
            return {str(k): self.decode(v, depth + 1) for k, v in items.items()}
        if kind == "array":
            try:
                array = np.load(io.BytesIO(self.blob(entry)), allow_pickle=False)
            except (ValueError, OSError, EOFError) as err:
                raise UnusableAnswer(f"an array in the answer is damaged ({str(err)[:100]})") from None
            if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
                raise UnusableAnswer("an array in the answer does not hold numbers")
            return array
        if kind == "model":
            path = self.scratch / f"m{self.items}.keras"
            path.write_bytes(self.blob(entry))
            return load_model(path)
        if kind == "other":
            return Other(str(entry.get("type", "object"))[:60])
        if kind == "failed":
            return Failed(str(entry.get("type", "Exception"))[:60], str(entry.get("message", ""))[:2000])
        raise UnusableAnswer("the answer's description is malformed")


@dataclass
class Answer:
    """What ``ask`` gave, read back as plain data; ``raised`` if ``ask`` raised instead."""

    data: dict
    raised: tuple[str, str] | None  # (exception type name, message)


def read_answer(folder: Path, base: Path | None = None) -> Answer:
    """Read an answer folder without trusting it: plain files only, bounded sizes, no pickle,
    Keras models in safe mode, reached from ``base`` without following links. Raises
    :class:`UnusableAnswer`."""
    files = _read_files(Path(folder), base)
    if ANSWER_FILE not in files or len(files[ANSWER_FILE]) > MAX_JSON_BYTES:
        raise UnusableAnswer("the notebook gave no answer to this test")
    try:
        entry = json.loads(files.pop(ANSWER_FILE))
    except (ValueError, RecursionError):
        raise UnusableAnswer("the answer's description is not JSON") from None
    if not isinstance(entry, dict) or entry.get("format") != 1:
        raise UnusableAnswer("the answer's description is malformed")
    raised = entry.get("raised")
    if raised is not None:
        if not isinstance(raised, dict):
            raise UnusableAnswer("the answer's description is malformed")
        raised = (str(raised.get("type", "Exception"))[:60], str(raised.get("message", ""))[:4000])
    with tempfile.TemporaryDirectory(prefix="answer-") as scratch:
        data = _Reader(files, Path(scratch)).decode(entry.get("data"))
    if not isinstance(data, dict):
        raise UnusableAnswer("the answer's description is malformed")
    return Answer(data, raised)


# --------------------------------------------------------------------------- checks


class StudentError(Exception):
    """Raised by a judge for an exception the student's function raised while it was asked."""

    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message = type_name, message


@dataclass(frozen=True)
class Check:
    """One lab check: ``check(student_function, ..., **params)`` asks, then judges.

    ``ask(*functions, **params) -> dict`` calls the student's functions; ``judge(data, **params)``
    decides from the returned data alone. ``functions`` is how many student functions it takes.
    """

    name: str
    ask: Callable[..., dict]
    judge: Callable[..., None]
    functions: int = 1

    @property
    def __doc__(self) -> str:  # type: ignore[override]
        return self.ask.__doc__ or ""

    def params(self, given: dict) -> dict:
        """Every parameter of this check: the defaults of ``ask`` updated with ``given``."""
        signature = inspect.signature(self.ask)
        names = list(signature.parameters)[self.functions :]
        unknown = set(given) - set(names)
        if unknown:
            raise TypeError(f"{self.name}() got unexpected arguments: {', '.join(sorted(unknown))}")
        out = {
            n: signature.parameters[n].default
            for n in names
            if signature.parameters[n].default is not inspect.Parameter.empty
        }
        out.update(given)
        missing = [n for n in names if n not in out]
        if missing:
            raise TypeError(f"{self.name}() is missing {', '.join(missing)}")
        return out

    def judge_answer(self, answer: Answer, params: dict) -> None:
        """Judge a read-back answer: the student's exception if ``ask`` raised, else ``judge``."""
        if answer.raised is not None:
            kind, message = answer.raised
            if kind == "AssertionError":  # a check's own early message (e.g. fit on the wrong data)
                raise AssertionError(message)
            raise StudentError(kind, message)
        self.judge(answer.data, **params)

    def __call__(self, *functions, **given) -> None:
        if len(functions) != self.functions:
            raise TypeError(
                f"{self.name}() takes {self.functions} function(s) to check, got {len(functions)}"
            )
        params = self.params(given)
        with quiet_stderr():
            data = self.ask(*functions, **params)
            with tempfile.TemporaryDirectory(prefix="course-answer-") as folder:
                write_answer(Path(folder), data)
                answer = read_answer(Path(folder))
            self.judge(answer.data, **params)


def check(judge: Callable[..., None], functions: int = 1) -> Callable[[Callable[..., dict]], Check]:
    """Decorator: ``@check(judge_x)`` on the ask function ``check_x`` makes it a :class:`Check`."""

    def make(ask: Callable[..., dict]) -> Check:
        return Check(ask.__name__, ask, judge, functions)

    return make
