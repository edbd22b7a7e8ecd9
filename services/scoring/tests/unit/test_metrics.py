"""Every metric agrees with scikit-learn to 1e-9 on random data with ties (SPEC §7.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from podium_scoring.metrics import METRICS, MetricUndefinedError, get_metric
from sklearn import metrics as sk

# Few distinct values make ties frequent; the float branch adds arbitrary values.
TIE_PRONE = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])
PROBABILITY = st.one_of(TIE_PRONE, st.floats(0.0, 1.0, allow_nan=False))
REAL = st.one_of(
    st.sampled_from([-3.0, -1.0, 0.0, 1.0, 2.5, 10.0]),
    st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
)


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)


@st.composite
def binary_case(draw: st.DrawFn, values: st.SearchStrategy[float] = PROBABILITY) -> tuple:
    n = draw(st.integers(2, 200))
    y_true = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
    y_pred = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    return y_true, y_pred


@st.composite
def regression_case(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(2, 200))
    y_true = np.array(draw(st.lists(REAL, min_size=n, max_size=n)))
    y_pred = np.array(draw(st.lists(REAL, min_size=n, max_size=n)))
    return y_true, y_pred


@given(binary_case(st.one_of(PROBABILITY, REAL)))
def test_auc_matches_scikit_learn_with_ties(case: tuple) -> None:
    y_true, y_score = case
    assume(0 < y_true.sum() < y_true.size)
    assert close(get_metric("auc_roc")(y_true, y_score), sk.roc_auc_score(y_true, y_score))


@given(binary_case())
def test_log_loss_matches_scikit_learn_including_clipping(case: tuple) -> None:
    y_true, y_prob = case
    expected = sk.log_loss(y_true, y_proba=y_prob, labels=[0, 1])
    assert close(get_metric("log_loss")(y_true, y_prob), expected)


@given(binary_case())
def test_accuracy_matches_scikit_learn_on_thresholded_predictions(case: tuple) -> None:
    y_true, y_pred = case
    expected = sk.accuracy_score(y_true, (y_pred >= 0.5).astype(float))
    assert close(get_metric("accuracy")(y_true, y_pred), expected)


@given(binary_case())
def test_f1_matches_scikit_learn_on_thresholded_predictions(case: tuple) -> None:
    y_true, y_pred = case
    assume(y_true.sum() > 0)
    expected = sk.f1_score(y_true, (y_pred >= 0.5).astype(float))
    assert close(get_metric("f1")(y_true, y_pred), expected)


@given(regression_case())
def test_rmse_matches_scikit_learn(case: tuple) -> None:
    y_true, y_pred = case
    assert close(get_metric("rmse")(y_true, y_pred), sk.root_mean_squared_error(y_true, y_pred))


@given(regression_case())
def test_mae_matches_scikit_learn(case: tuple) -> None:
    y_true, y_pred = case
    assert close(get_metric("mae")(y_true, y_pred), sk.mean_absolute_error(y_true, y_pred))


@given(regression_case())
def test_r2_matches_scikit_learn(case: tuple) -> None:
    y_true, y_pred = case
    assume(np.ptp(y_true) > 1e-3)
    assert close(get_metric("r2")(y_true, y_pred), sk.r2_score(y_true, y_pred))


def test_auc_of_a_perfect_and_an_inverted_ranking() -> None:
    y_true = np.array([0.0, 0.0, 1.0, 1.0])
    assert get_metric("auc_roc")(y_true, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert get_metric("auc_roc")(y_true, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert get_metric("auc_roc")(y_true, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


@pytest.mark.parametrize("target", [0.0, 1.0])
def test_auc_with_one_class_only_is_undefined(target: float) -> None:
    y_true = np.full(10, target)
    with pytest.raises(MetricUndefinedError) as info:
        get_metric("auc_roc")(y_true, np.linspace(0, 1, 10))
    assert info.value.code == "METRIC_UNDEFINED"
    assert "one class" in str(info.value)


def test_f1_without_positive_targets_is_undefined() -> None:
    with pytest.raises(MetricUndefinedError):
        get_metric("f1")(np.zeros(5), np.array([0.0, 1.0, 0.0, 1.0, 0.0]))


def test_r2_on_a_constant_target_is_undefined() -> None:
    with pytest.raises(MetricUndefinedError):
        get_metric("r2")(np.full(5, 3.0), np.arange(5.0))


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_refuses_zero_rows(name: str) -> None:
    with pytest.raises(MetricUndefinedError):
        get_metric(name)(np.array([]), np.array([]))


@pytest.mark.parametrize("name", ["rmse", "r2"])
def test_a_result_that_overflows_is_undefined_not_infinite(name: str) -> None:
    # Finite inputs, but their squares overflow: no board can rank an infinite score.
    y_true = np.array([0.0, 1.0, 2.0])
    y_pred = np.array([1e200, -1e200, 1e200])
    with pytest.raises(MetricUndefinedError) as info:
        get_metric(name)(y_true, y_pred)
    assert "not a finite number" in str(info.value)


def test_directions_follow_the_metric_meaning() -> None:
    higher = {name for name, metric in METRICS.items() if metric.higher_is_better}
    assert higher == {"auc_roc", "accuracy", "f1", "r2"}


def test_auc_on_a_million_rows_matches_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    y_true = (rng.random(1_000_000) < 0.3).astype(float)
    y_score = np.round(rng.random(1_000_000) + 0.2 * y_true, 3)  # many ties
    assert close(get_metric("auc_roc")(y_true, y_score), sk.roc_auc_score(y_true, y_score))
