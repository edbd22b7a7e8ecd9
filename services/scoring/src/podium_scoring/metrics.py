"""Evaluation metrics, vectorised with numpy (SPEC §7.1).

Every metric agrees with scikit-learn to 1e-9 (the tests compare them on
random data with ties). What each metric accepts is declared next to it and
checked by validation before scoring:

| metric    | answer key targets | predictions                  | better  |
|-----------|--------------------|------------------------------|---------|
| auc_roc   | 0/1                | any finite number (a score)  | higher  |
| log_loss  | 0/1                | probability of class 1, [0,1]| lower   |
| accuracy  | 0/1                | label or probability, [0,1]  | higher  |
| f1        | 0/1                | label or probability, [0,1]  | higher  |
| rmse      | any finite number  | any finite number            | lower   |
| mae       | any finite number  | any finite number            | lower   |
| r2        | any finite number  | any finite number            | higher  |

For accuracy and f1 a prediction p counts as class 1 when p >= 0.5, so hard
0/1 labels score as given and probabilities are thresholded the usual way.
A metric that is undefined on the data raises `MetricUndefinedError`
(`METRIC_UNDEFINED`): AUC with one class only, f1 without any positive
target, r2 on a constant target, any metric on zero rows, and any result that
is not a finite number (predictions so large that squaring them overflows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from podium_contracts.codes import SubmissionErrorCode

FloatArray = npt.NDArray[np.float64]
TargetKind = Literal["binary", "real"]

#: Decision threshold for accuracy and f1 when predictions are probabilities.
THRESHOLD = 0.5


class MetricUndefinedError(ValueError):
    """The metric has no value on this data (e.g. AUC when only one class is present)."""

    code = SubmissionErrorCode.METRIC_UNDEFINED


def _require_rows(y_true: FloatArray) -> None:
    if y_true.size == 0:
        raise MetricUndefinedError("no rows to score")


def auc_roc(y_true: FloatArray, y_score: FloatArray) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic; ties count one half.

    Equivalent to ranking with average ranks for ties: within a block of equal
    scores every positive beats the negatives below the block and half of the
    negatives inside it. Counting is done in integers, so the result is exact
    up to the final division.
    """
    _require_rows(y_true)
    positive = y_true == 1
    n_pos = int(np.count_nonzero(positive))
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise MetricUndefinedError(
            "AUC needs both classes in the targets; only one class is present"
        )
    order = np.argsort(y_score, kind="quicksort")
    sorted_scores = y_score[order]
    starts = np.concatenate(([0], np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1]) + 1))
    pos_in_block = np.add.reduceat(positive[order].astype(np.int64), starts)
    block_size = np.diff(np.append(starts, positive.size))
    neg_in_block = block_size - pos_in_block
    neg_below = np.cumsum(neg_in_block) - neg_in_block
    twice_u = int(np.dot(pos_in_block, 2 * neg_below + neg_in_block))
    return float(twice_u / (2.0 * n_pos * n_neg))


def log_loss(y_true: FloatArray, y_prob: FloatArray) -> float:
    """Mean binary cross-entropy; probabilities are clipped to [eps, 1 - eps] like scikit-learn."""
    _require_rows(y_true)
    eps = np.finfo(np.float64).eps
    # scikit-learn clips p and 1 - p separately (not 1 - clip(p)); so do we.
    p_one = np.clip(y_prob, eps, 1 - eps)
    p_zero = np.clip(1 - y_prob, eps, 1 - eps)
    return float(-np.mean(np.where(y_true == 1, np.log(p_one), np.log(p_zero))))


def _labels(y_pred: FloatArray) -> npt.NDArray[np.bool_]:
    return y_pred >= THRESHOLD


def accuracy(y_true: FloatArray, y_pred: FloatArray) -> float:
    """Share of rows whose predicted class (p >= 0.5) equals the target."""
    _require_rows(y_true)
    return float(np.mean(_labels(y_pred) == (y_true == 1)))


def f1(y_true: FloatArray, y_pred: FloatArray) -> float:
    """Binary F1 of class 1: 2·TP / (2·TP + FP + FN)."""
    _require_rows(y_true)
    actual = y_true == 1
    predicted = _labels(y_pred)
    if not actual.any():
        raise MetricUndefinedError("F1 needs at least one positive target; there is none")
    true_pos = int(np.count_nonzero(actual & predicted))
    false_pos = int(np.count_nonzero(~actual & predicted))
    false_neg = int(np.count_nonzero(actual & ~predicted))
    return 2 * true_pos / (2 * true_pos + false_pos + false_neg)


def rmse(y_true: FloatArray, y_pred: FloatArray) -> float:
    """Root mean squared error."""
    _require_rows(y_true)
    diff = y_true - y_pred
    return float(np.sqrt(np.mean(diff * diff)))


def mae(y_true: FloatArray, y_pred: FloatArray) -> float:
    """Mean absolute error."""
    _require_rows(y_true)
    return float(np.mean(np.abs(y_true - y_pred)))


def r2(y_true: FloatArray, y_pred: FloatArray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot."""
    _require_rows(y_true)
    centred = y_true - np.mean(y_true)
    total = float(np.dot(centred, centred))
    if total == 0.0:
        raise MetricUndefinedError("R² needs targets that vary; every target is the same")
    diff = y_true - y_pred
    return 1.0 - float(np.dot(diff, diff)) / total


@dataclass(frozen=True)
class Metric:
    """A metric with its direction and the targets and predictions it accepts."""

    name: str
    compute: Callable[[FloatArray, FloatArray], float]
    higher_is_better: bool
    #: "binary": targets must be 0 or 1; "real": any finite number.
    target_kind: TargetKind
    #: Closed range predictions must lie in, or None for any finite number.
    prediction_range: tuple[float, float] | None

    def __call__(self, y_true: FloatArray, y_pred: FloatArray) -> float:
        """Score `y_pred` against `y_true` (both float64 arrays of equal length).

        A result that is not a finite number (finite inputs of extreme size can
        overflow, e.g. RMSE or R²) is undefined: no board can rank it, and JSON cannot
        carry it.
        """
        value = self.compute(y_true, y_pred)
        if not math.isfinite(value):
            raise MetricUndefinedError(
                f"{self.name} is not a finite number on these values ({value}); "
                "the predictions are too large to score"
            )
        return value


PROBABILITY = (0.0, 1.0)

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("auc_roc", auc_roc, True, "binary", None),
        Metric("log_loss", log_loss, False, "binary", PROBABILITY),
        Metric("accuracy", accuracy, True, "binary", PROBABILITY),
        Metric("f1", f1, True, "binary", PROBABILITY),
        Metric("rmse", rmse, False, "real", None),
        Metric("mae", mae, False, "real", None),
        Metric("r2", r2, True, "real", None),
    )
}


def get_metric(name: str) -> Metric:
    """Return the metric called `name`; raises KeyError for an unknown name."""
    return METRICS[name]
