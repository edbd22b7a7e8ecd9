"""Score histogram of the sponsor's statistics (pure)."""

from __future__ import annotations

from podium_competitions.sponsor.domain import Bucket, histogram


def test_no_scores_no_buckets() -> None:
    assert histogram([]) == []


def test_equal_scores_fall_in_one_bucket() -> None:
    assert histogram([0.5, 0.5, 0.5]) == [Bucket(0.5, 0.5, 3)]


def test_buckets_are_equal_width_and_the_last_holds_the_maximum() -> None:
    buckets = histogram([0.0, 0.05, 0.1, 0.55, 1.0], buckets=10)
    assert len(buckets) == 10
    assert [b.count for b in buckets] == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert buckets[0].low == 0.0 and buckets[-1].high == 1.0
    assert sum(b.count for b in buckets) == 5
