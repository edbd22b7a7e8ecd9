"""Factories of the competitions service: `create_runtime()` and `create_api()` (STYLE 9)."""

from __future__ import annotations

from fastapi import FastAPI
from podium_runtime.runtime import ServiceRuntime
from podium_runtime.script_line import ScriptLine

from podium_competitions import consumers, personal_data, queries, rebuilds, tasks
from podium_competitions.activity import api as activity_api
from podium_competitions.activity import consumers as activity_consumers
from podium_competitions.activity.mirror import ActivityBoardMirror
from podium_competitions.api import router
from podium_competitions.boards import BOARD_SCRIPTS, BoardWriter
from podium_competitions.config import Settings
from podium_competitions.datasets import api as datasets_api
from podium_competitions.erasure import consumers as erasure_consumers
from podium_competitions.leaderboard import api as leaderboard_api
from podium_competitions.leaderboard import consumers as leaderboard_consumers
from podium_competitions.leaderboard.mirror import LeaderboardMirror
from podium_competitions.models import metadata
from podium_competitions.read_model import CompetitionReadModel, attach, reset_at_start
from podium_competitions.read_model_api import router as read_model_router
from podium_competitions.sponsor import api as sponsor_api
from podium_competitions.teams import api as teams_api
from podium_competitions.teams import consumers as teams_consumers


def create_runtime(settings: Settings) -> ServiceRuntime:
    """Build the infrastructure handles and register the event handlers and jobs."""
    runtime = ServiceRuntime(settings, metadata)
    runtime.personal_data.register(*personal_data.RECORDS)
    runtime.queries.register(*queries.CATALOGUE)
    read_model = CompetitionReadModel(runtime.redis, runtime.db)
    attach(runtime.db, read_model)
    runtime.background.append(reset_at_start(read_model))
    # The consumers' board deltas travel on a pipelined connection of their own (ADR 0101).
    line = ScriptLine(settings.redis_url, BOARD_SCRIPTS)
    runtime.on_stop.append(line.aclose)
    writer = BoardWriter(runtime.redis, line=line)
    leaderboards, activity_boards = LeaderboardMirror(writer), ActivityBoardMirror(writer)
    runtime.include_events(
        consumers.router,
        leaderboard_consumers.router,
        activity_consumers.router,
        teams_consumers.router,
        erasure_consumers.router,
        leaderboard_mirror=leaderboards,
        activity_mirror=activity_boards,
    )
    runtime.background.append(tasks.auto_end(runtime, settings.auto_end_interval_seconds))
    runtime.background.append(
        tasks.mirror_audit(
            runtime, leaderboards, activity_boards, settings.mirror_audit_interval_seconds
        )
    )
    return runtime


def create_api(settings: Settings) -> FastAPI:
    """Build the HTTP app; its lifespan runs the broker, consumers, relay and auto-end."""
    runtime = create_runtime(settings)
    app = runtime.create_app(
        title="Podium competitions",
        description="Competitions, joins and enrollments, and the leaderboard projection.",
        routers=[
            router,
            read_model_router,
            leaderboard_api.router,
            activity_api.router,
            rebuilds.router,
            teams_api.router,
            sponsor_api.router,
            datasets_api.router,
        ],
    )
    return app
