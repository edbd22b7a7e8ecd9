"""Answer keys, the public/private split and scoring: pure logic, no I/O (SPEC §7.1)."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from podium_contracts.codes import SubmissionErrorCode

from podium_scoring.metrics import FloatArray, Metric, MetricUndefinedError
from podium_scoring.validation import (
    FileError,
    FileInvalidError,
    StrArray,
    check_duplicates,
    check_numbers,
    read_table,
)

#: Share of rows on the public board when a competition does not say.
DEFAULT_PUBLIC_FRACTION = 0.5


class ScoringRejectedError(Exception):
    """A submission cannot be scored for a reason the participant or owner must see."""

    def __init__(self, code: SubmissionErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def errors(self) -> list[FileError]:
        """Return the reason as a one-element error list."""
        return [FileError(self.code, self.message)]


def public_mask(
    competition_id: str, ids: StrArray, public_fraction: float
) -> npt.NDArray[np.bool_]:
    """Return which rows are public: a hash of `"{competition_id}:{row_id}"` below the fraction.

    Deterministic in the row id and the competition id only (SPEC §7.1): the
    same key gives the same split on every replica and after every restart,
    and reordering the key's rows changes nothing.
    """
    prefix = f"{competition_id}:".encode()
    digests = b"".join(hashlib.sha256(prefix + i.encode()).digest()[:8] for i in ids.tolist())
    buckets = np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2.0**64
    mask: npt.NDArray[np.bool_] = buckets < public_fraction
    return mask


@dataclass(frozen=True)
class AnswerKey:
    """A competition's answer key as numpy arrays, with its split fixed at load time."""

    competition_id: str
    sha256: str
    id_column: str
    target_column: str
    ids: StrArray
    targets: FloatArray
    public: npt.NDArray[np.bool_]
    public_fraction: float
    #: Row of every id: a C-level hash lookup per submitted id, no string sorting.
    index: dict[str, int]

    @property
    def size(self) -> int:
        """Return the number of rows."""
        return int(self.ids.size)

    @cached_property
    def arrow_ids(self) -> pa.Array:
        """The ids as an Arrow string array, made once per key (`fastcsv.positions_in`)."""
        return pa.array(self.ids, type=pa.string())

    def positions(self, ids: list[str]) -> npt.NDArray[np.intp]:
        """Return the row index in the key of every id, or -1 for ids not in the key."""
        return np.fromiter(
            map(self.index.get, ids, itertools.repeat(-1)), dtype=np.intp, count=len(ids)
        )

    def check_targets(self, metric: Metric) -> None:
        """Raise `ScoringRejectedError` when the targets do not suit `metric`."""
        if metric.target_kind == "binary" and not np.isin(self.targets, (0.0, 1.0)).all():
            raise ScoringRejectedError(
                SubmissionErrorCode.ANSWER_KEY_INVALID,
                f"{metric.name} needs answer key targets of 0 or 1; the key has other values",
            )


def parse_answer_key(
    data: bytes,
    *,
    competition_id: str,
    sha256: str,
    public_fraction: float | None,
    max_bytes: int,
) -> AnswerKey:
    """Parse an answer key (an id column and a target column); raises `FileInvalidError`."""
    table = read_table(data, max_bytes=max_bytes, what="answer key")
    errors = list(table.errors)
    if len(table.header) != 2 or not all(table.header) or table.header[0] == table.header[1]:
        errors.append(
            FileError(
                SubmissionErrorCode.ANSWER_KEY_INVALID,
                "the answer key must have exactly two named columns: an id and a target; "
                f"it has {', '.join(repr(h) for h in table.header)}",
            )
        )
        raise FileInvalidError(errors)
    id_column, target_column = table.header
    id_list = table.column(0)
    targets = table.numbers(1)
    errors += check_numbers(table, target_column, targets, id_list)
    errors += check_duplicates(id_column, id_list)
    if errors:
        raise FileInvalidError(errors)
    fraction = DEFAULT_PUBLIC_FRACTION if public_fraction is None else public_fraction
    ids = np.asarray(id_list, dtype=np.str_)
    return AnswerKey(
        competition_id=competition_id,
        sha256=sha256,
        id_column=id_column,
        target_column=target_column,
        ids=ids,
        targets=targets,
        public=public_mask(competition_id, ids, fraction),
        public_fraction=fraction,
        index=dict(zip(id_list, range(len(id_list)), strict=True)),
    )


@dataclass(frozen=True)
class Scores:
    """Public and private score of one submission."""

    public: float
    private: float


def score(key: AnswerKey, metric: Metric, predictions: FloatArray) -> Scores:
    """Score aligned predictions on the public and the private rows.

    When one side of the split is empty (a fraction of 0 or 1, or a tiny key)
    that side is scored on every row, so both boards always have a score.
    """
    key.check_targets(metric)
    public, private = key.public, ~key.public
    if not public.any() or not private.any():
        public = private = np.ones(key.size, dtype=bool)
    try:
        return Scores(
            public=metric(key.targets[public], predictions[public]),
            private=metric(key.targets[private], predictions[private]),
        )
    except MetricUndefinedError as exc:
        raise ScoringRejectedError(MetricUndefinedError.code, str(exc)) from None
