"""Prebuilt read-only queries of the scoring service (`podium_runtime.queries`)."""

from __future__ import annotations

from podium_runtime.queries import Parameter, PrebuiltQuery

CATALOGUE = (
    PrebuiltQuery(
        name="submissions_rejected_by_code",
        description="Rejected submissions per error code since a date.",
        sql="""
            SELECT error->>'code' AS code, count(DISTINCT s.submission_id) AS submissions
            FROM scoring.submissions s, jsonb_array_elements(s.errors) AS error
            WHERE s.status = 'rejected' AND s.submitted_at >= :since
            GROUP BY 1 ORDER BY 2 DESC, 1
        """,
        parameters={"since": Parameter("date")},
    ),
    PrebuiltQuery(
        name="submissions_per_day",
        description="Submissions per day and outcome for one competition.",
        sql="""
            SELECT date_trunc('day', submitted_at)::date AS day, status, count(*) AS submissions
            FROM scoring.submissions
            WHERE competition_id = :competition_id
            GROUP BY 1, 2 ORDER BY 1, 2
        """,
        parameters={"competition_id": Parameter("uuid")},
    ),
)
