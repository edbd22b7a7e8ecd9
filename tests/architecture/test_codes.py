"""Every code a producer can emit has the consumer's translation (pure, no I/O).

Competitions emits `JoinRejection` members in `enrollment.rejected`, scoring
emits `SubmissionErrorCode` members in `submission.rejected`; the notifier
turns them into words. A code added on one side without the other fails here.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from podium_competitions import domain as competitions_domain
from podium_contracts.codes import JoinRejection, SubmissionErrorCode
from podium_notifier import domain as notifier_domain

ROOT = Path(__file__).resolve().parents[2]
UPPER_CODE = re.compile(r"^[A-Z][A-Z0-9_]{3,}$")


def test_every_join_rejection_has_words() -> None:
    assert set(notifier_domain.JOIN_REJECTION_WORDS) == set(JoinRejection)
    for code in JoinRejection:
        assert notifier_domain.join_rejection_words(code) != code


def test_every_submission_error_has_words() -> None:
    assert set(notifier_domain.SUBMISSION_ERROR_WORDS) == set(SubmissionErrorCode)
    for code in SubmissionErrorCode:
        assert notifier_domain.submission_error_words(code).startswith(
            notifier_domain.SUBMISSION_ERROR_WORDS[code]
        )


def test_join_refusal_returns_only_contract_codes() -> None:
    hints = inspect.get_annotations(competitions_domain.join_refusal)
    assert hints["return"] == "JoinRejection | None"


def _string_codes(path: Path) -> set[str]:
    """Upper-case string literals passed as the first argument of a call named *Error."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        first = node.args[0]
        if (
            name.endswith("Error")
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and UPPER_CODE.match(first.value)
        ):
            found.add(first.value)
    return found


def test_scoring_emits_no_code_outside_the_enum() -> None:
    scoring = ROOT / "services/scoring/src/podium_scoring"
    literals = set().union(*(_string_codes(p) for p in scoring.glob("*.py")))
    assert literals == set(), f"use SubmissionErrorCode for {sorted(literals)}"
