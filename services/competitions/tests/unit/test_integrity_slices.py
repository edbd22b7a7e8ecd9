"""The integrity check reads mirrors in round trips of bounded size (`rebuilds.slice_reads`)."""

from __future__ import annotations

from podium_competitions.rebuilds import slice_reads


def test_small_boards_share_a_round_trip() -> None:
    assert slice_reads([2, 3, 0, 1], 10) == [[(0, 0, 1), (1, 0, 2), (3, 0, 0)]]


def test_a_large_board_is_read_in_slices_and_the_next_fills_the_rest() -> None:
    assert slice_reads([25, 3], 10) == [
        [(0, 0, 9)],
        [(0, 10, 19)],
        [(0, 20, 24), (1, 0, 2)],
    ]


def test_every_line_is_read_once_and_no_round_trip_exceeds_the_limit() -> None:
    sizes = [0, 7, 10, 1, 33, 4]
    trips = slice_reads(sizes, 8)
    assert all(sum(last - first + 1 for _, first, last in trip) <= 8 for trip in trips)
    read: dict[int, list[int]] = {}
    for trip in trips:
        for board, first, last in trip:
            read.setdefault(board, []).extend(range(first, last + 1))
    assert read == {board: list(range(size)) for board, size in enumerate(sizes) if size}


def test_nothing_to_read_is_no_round_trip() -> None:
    assert slice_reads([], 10) == []
    assert slice_reads([0, 0], 10) == []
