"""Prebuilt read-only queries of the competitions service (`podium_runtime.queries`)."""

from __future__ import annotations

from podium_runtime.queries import Parameter, PrebuiltQuery

CATALOGUE = (
    PrebuiltQuery(
        name="active_participants_per_competition",
        description="Accepted participants of each competition, optionally of one status.",
        sql="""
            SELECT c.id AS competition_id, c.title, c.kind, c.status,
                   count(e.user_id) FILTER (WHERE e.status = 'accepted') AS participants
            FROM competitions.competitions c
            LEFT JOIN competitions.enrollments e ON e.competition_id = c.id
            WHERE CAST(:status AS text) IS NULL OR c.status = :status
            GROUP BY c.id ORDER BY participants DESC, c.created_at
        """,
        parameters={
            "status": Parameter("str", required=False, description="draft|active|ended|canceled")
        },
    ),
    PrebuiltQuery(
        name="join_outcomes_per_day",
        description="Enrollment decisions per day and outcome since a date.",
        sql="""
            SELECT date_trunc('day', updated_at)::date AS day, status, reason, count(*) AS joins
            FROM competitions.enrollments
            WHERE updated_at >= :since
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,
        parameters={"since": Parameter("date")},
    ),
    PrebuiltQuery(
        name="accepted_participants",
        description="Accepted participants per competition (the integrity check's source).",
        sql="""
            SELECT competition_id, count(*) AS participants
            FROM competitions.enrollments WHERE status = 'accepted'
            GROUP BY 1 ORDER BY 1
        """,
    ),
)
