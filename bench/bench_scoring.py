"""Scoring benchmarks (SPEC §7.1): numpy AUC against scikit-learn, and a 100,000-row file.

Prints a table; finishes in well under a minute. Times are the best of a few
runs so a busy machine disturbs them less.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from podium_scoring.domain import parse_answer_key, score
from podium_scoring.metrics import get_metric
from podium_scoring.validation import validate_submission

REPEATS = 5


def best_ms(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Return the fastest of `repeats` runs in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def auc_rows() -> list[tuple[str, str]]:
    """Time AUC on 1,000,000 rows with ties, ours and scikit-learn's, on the same data."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y_true = (rng.random(1_000_000) < 0.3).astype(np.float64)
    y_score = np.round(rng.random(1_000_000) + 0.25 * y_true, 4)
    auc = get_metric("auc_roc")
    ours_value, theirs_value = auc(y_true, y_score), roc_auc_score(y_true, y_score)
    assert abs(ours_value - theirs_value) < 1e-9, (ours_value, theirs_value)
    ours = best_ms(lambda: auc(y_true, y_score))
    theirs = best_ms(lambda: roc_auc_score(y_true, y_score))
    return [
        ("AUC, 1,000,000 rows, numpy", f"{ours:.1f} ms"),
        ("AUC, 1,000,000 rows, scikit-learn", f"{theirs:.1f} ms"),
        ("AUC speed-up over scikit-learn", f"{theirs / ours:.2f}x"),
    ]


def file_rows() -> list[tuple[str, str]]:
    """Time parse + validate + score of a 100,000-row submission (BOM, CRLF, quoted values)."""
    rows = 100_000
    rng = np.random.default_rng(1)
    ids = [f"id-{i:07d}" for i in range(rows)]
    targets = (rng.random(rows) < 0.4).astype(int)
    key_csv = "id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(ids, targets, strict=True))
    key = parse_answer_key(
        key_csv.encode(),
        competition_id="bench",
        sha256="",
        public_fraction=0.3,
        max_bytes=10**9,
    )
    order = rng.permutation(rows)
    values = rng.random(rows)
    body = "".join(f'{ids[i]},"{values[i]:.6f}"\r\n' for i in order)
    submission = b"\xef\xbb\xbf" + ("Id, Target\r\n" + body).encode()
    metric = get_metric("log_loss")

    def run() -> None:
        valid = validate_submission(submission, key, metric, max_bytes=10**9)
        score(key, metric, valid.predictions)

    key_load = best_ms(
        lambda: parse_answer_key(
            key_csv.encode(),
            competition_id="bench",
            sha256="",
            public_fraction=0.3,
            max_bytes=10**9,
        ),
        repeats=3,
    )
    total = best_ms(run)
    return [
        (f"answer key load + split, {rows:,} rows", f"{key_load:.1f} ms"),
        (
            f"parse + validate + score, {rows:,} rows ({len(submission) / 1e6:.1f} MB)",
            f"{total:.1f} ms",
        ),
    ]


def main() -> int:
    """Run every benchmark and print one table."""
    results = auc_rows() + file_rows()
    width = max(len(name) for name, _ in results)
    print(f"{'benchmark':<{width}}  result")
    print(f"{'-' * width}  ------")
    for name, value in results:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
