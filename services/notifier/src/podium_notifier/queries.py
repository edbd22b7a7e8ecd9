"""Prebuilt read-only queries of the notifier service (`podium_runtime.queries`)."""

from __future__ import annotations

from podium_runtime.queries import Parameter, PrebuiltQuery

CATALOGUE = (
    PrebuiltQuery(
        name="notifications_per_type_per_day",
        description="In-app notifications and e-mails per type and day since a date.",
        sql="""
            SELECT date_trunc('day', created_at)::date AS day, notification_type,
                   count(*) AS in_app, count(*) FILTER (WHERE read_at IS NOT NULL) AS read
            FROM notifier.notifications
            WHERE created_at >= :since
            GROUP BY 1, 2 ORDER BY 1, 2
        """,
        parameters={"since": Parameter("date")},
    ),
    PrebuiltQuery(
        name="active_participants",
        description="Participants the notifier knows per competition (the integrity check's).",
        sql="""
            SELECT competition_id, count(*) AS participants
            FROM notifier.participants WHERE active
            GROUP BY 1 ORDER BY 1
        """,
    ),
)
