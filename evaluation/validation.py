"""Input checks shared by every metric: refuse bad input with a message naming the problem and the fix."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


class EvaluationInputError(ValueError):
    """Raised when scores or labels cannot be evaluated as given; the message says how to fix them."""


def as_scores(scores: ArrayLike, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D float64 array; refuse NaN, infinities, empty or multi-column input."""
    arr = np.asarray(scores)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise EvaluationInputError(
            f"{name} must be one score per time point, shape (T,); got shape {arr.shape}. "
            "Reduce the channels to one anomaly score per time point first."
        )
    if arr.size == 0:
        raise EvaluationInputError(f"{name} is empty; pass at least one score.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise EvaluationInputError(f"{name} must be numeric; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.flatnonzero(bad)
        raise EvaluationInputError(
            f"{name} contains {where.size} NaN or infinite value(s), the first at index {where[0]}; "
            "fix the model output (or replace them explicitly, e.g. np.nan_to_num) before evaluating."
        )
    return arr


def as_binary(values: ArrayLike, name: str = "labels") -> np.ndarray:
    """Return ``values`` as a 1-D bool array; refuse anything outside {0, 1}."""
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise EvaluationInputError(
            f"{name} must be one 0/1 value per time point, shape (T,); got shape {arr.shape}."
        )
    if arr.size == 0:
        raise EvaluationInputError(f"{name} is empty; pass at least one value.")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise EvaluationInputError(f"{name} must be numeric 0/1; got dtype {arr.dtype}.")
    outside = (arr != 0) & (arr != 1)
    if outside.any():
        bad = np.unique(arr[outside])[:5]
        raise EvaluationInputError(
            f"{name} must contain only 0 and 1; found {bad.tolist()} "
            f"({int(outside.sum())} value(s)). Binarise them first, e.g. (x > 0).astype(int)."
        )
    return arr == 1


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str = "scores", name_b: str = "labels") -> None:
    """Refuse arrays of different lengths; never truncate."""
    if a.shape[0] != b.shape[0]:
        raise EvaluationInputError(
            f"{name_a} has {a.shape[0]} points but {name_b} has {b.shape[0]}; they must align one to one. "
            "Nothing is truncated here: fix the windowing so every test point gets exactly one score."
        )


def require_positive(labels: np.ndarray, what: str) -> None:
    """Refuse labels without any anomaly where ``what`` needs one."""
    if not labels.any():
        raise EvaluationInputError(
            f"labels contain no anomaly (no 1), so {what} is undefined; "
            "evaluate on a test split that contains at least one labelled anomaly."
        )


def require_negative(labels: np.ndarray, what: str) -> None:
    """Refuse labels without any normal point where ``what`` needs one."""
    if labels.all():
        raise EvaluationInputError(
            f"labels contain no normal point (all 1), so {what} is undefined; "
            "evaluate on a test split that contains normal points too."
        )


def scores_and_labels(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate a score vector and its labels together (same length, finite, binary)."""
    s = as_scores(scores)
    y = as_binary(labels)
    check_same_length(s, y)
    return s, y


def predictions_and_labels(pred: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate binary predictions and labels together."""
    p = as_binary(pred, "predictions")
    y = as_binary(labels)
    check_same_length(p, y, "predictions")
    return p, y
