"""Prebuilt read-only queries of the identity service (`podium_runtime.queries`)."""

from __future__ import annotations

from podium_runtime.queries import Parameter, PrebuiltQuery

CATALOGUE = (
    PrebuiltQuery(
        name="registrations_per_day",
        description="New accounts per day, and how many verified their address, since a date.",
        sql="""
            SELECT date_trunc('day', created_at)::date AS day, count(*) AS registrations,
                   count(email_verified_at) AS verified, count(disabled_at) AS disabled
            FROM identity.users WHERE created_at >= :since
            GROUP BY 1 ORDER BY 1
        """,
        parameters={"since": Parameter("date")},
    ),
)
