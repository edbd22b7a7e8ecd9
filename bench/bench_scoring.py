"""Scoring benchmarks (SPEC §7.1): numpy AUC against scikit-learn, and a 100,000-row file.

The file is parsed, validated and scored three ways in the same run: the
service's path (pyarrow's reader and C++ id alignment for plain files), the
csv module path it falls back to for anything else, and pandas + scikit-learn
doing the same job (read, trim, align by id, log loss). Prints a table;
finishes in well under a minute. Times are the best of a few runs (wall clock
and CPU of this process) so a busy machine disturbs them less.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from unittest import mock

import numpy as np
from podium_scoring import fastcsv
from podium_scoring.domain import parse_answer_key, score
from podium_scoring.metrics import get_metric
from podium_scoring.validation import validate_submission

REPEATS = 5


def best_ms(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Return the fastest of `repeats` runs in milliseconds."""
    return best_wall_cpu_ms(run, repeats)[0]


def best_wall_cpu_ms(run: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """Return the fastest wall-clock and CPU (process) time of `repeats` runs, in ms."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return min(walls), min(cpus)


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

    def run() -> float:
        valid = validate_submission(submission, key, metric, max_bytes=10**9)
        return score(key, metric, valid.predictions).private

    def run_csv_module() -> float:
        with mock.patch.object(fastcsv, "read_columns", return_value=None):
            return run()

    def run_pandas() -> float:
        import pandas as pd
        from sklearn.metrics import log_loss

        frame = pd.read_csv(io.BytesIO(submission), dtype=str, encoding="utf-8-sig")
        frame.columns = [c.strip().lower() for c in frame.columns]
        frame["id"] = frame["id"].str.strip()
        frame = frame.set_index("id")
        predictions = pd.to_numeric(frame["target"].str.strip()).reindex(key.ids)
        private = ~key.public
        return float(log_loss(key.targets[private], predictions.to_numpy()[private]))

    ours, theirs, old = run(), run_pandas(), run_csv_module()
    assert abs(ours - theirs) < 1e-9 and ours == old, (ours, theirs, old)

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
    fast, fast_cpu = best_wall_cpu_ms(run)
    slow, slow_cpu = best_wall_cpu_ms(run_csv_module)
    pandas, pandas_cpu = best_wall_cpu_ms(run_pandas)
    what = f"parse + validate + score, {rows:,} rows ({len(submission) / 1e6:.1f} MB)"
    return [
        (f"answer key load + split, {rows:,} rows", f"{key_load:.1f} ms"),
        (f"{what}, pyarrow reader", f"{fast:.1f} ms (CPU {fast_cpu:.1f} ms)"),
        (f"{what}, csv module", f"{slow:.1f} ms (CPU {slow_cpu:.1f} ms)"),
        (f"{what}, pandas + scikit-learn", f"{pandas:.1f} ms (CPU {pandas_cpu:.1f} ms)"),
        ("speed-up of pyarrow reader over csv module", f"{slow / fast:.2f}x"),
        ("speed-up of pyarrow reader over pandas + scikit-learn", f"{pandas / fast:.2f}x"),
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
