"""The course's results table, at a tiny budget."""

from __future__ import annotations

import numpy as np
import pytest

from course import results
from course.runtime import Budget

TINY = Budget("ci", n_train=300, n_val=100, n_test=100, epochs=1, batch_size=64)


@pytest.fixture(scope="module")
def rows():
    return results.results_table(TINY)


def test_one_row_per_reference_model(rows):
    assert [r["key"] for r in rows] == ["pca32", "dense", "sparse", "deep", "pca128", "conv"]
    assert [r["code size"] for r in rows] == [32, 32, 32, 32, 128, 128]
    assert all(r["train images"] == 300 for r in rows)
    assert rows[-1]["epochs"] == 1 and rows[0]["epochs"] == "-"


def test_values_are_sane(rows):
    for r in rows:
        assert 0 < r["test MSE"] < 0.25 and r["test BCE"] > 0 and r["seconds"] >= 0
        assert r["PSNR (dB)"] == pytest.approx(-10 * np.log10(r["test MSE"]), rel=1e-6)
    by_key = {r["key"]: r for r in rows}
    assert by_key["pca128"]["test MSE"] < by_key["pca32"]["test MSE"]  # more components, less error


def test_markdown_and_reference_column(rows):
    table = results.as_markdown(results.with_reference(rows))
    lines = table.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "key" not in lines[0] and results.REFERENCE_COLUMN in lines[0]
    conv = next(line for line in lines if line.startswith("| conv"))
    assert conv.rstrip(" |").endswith("0.094")  # the slides' figure, next to the conv row
    assert lines[2].rstrip(" |").endswith("-")  # no published PCA figure


def test_conv_epochs_are_capped_on_cpu():
    assert results.conv_epochs_for(Budget("cpu", 10, 1, 1, 10, 8)) == 3
    assert results.conv_epochs_for(Budget("gpu", 10, 1, 1, 50, 8)) == 50
