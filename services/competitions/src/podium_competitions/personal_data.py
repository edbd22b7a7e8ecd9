"""What competitions holds about a user, for the personal-data export (ADR 0058).

Private scores and private-board rows are left out, as in scoring's part: the
private split stays hidden until the end (SPEC §5.3).
"""

from __future__ import annotations

from podium_runtime.personal_data import PersonalRecords

from podium_competitions.activity.models import activity_board, activity_points
from podium_competitions.leaderboard.models import leaderboard_entries, leaderboard_submissions
from podium_competitions.models import competitions, enrollments, users
from podium_competitions.teams.models import team_members, team_requests, teams

RECORDS = (
    PersonalRecords("profile", users),
    PersonalRecords("competitions_owned", competitions, column="owner_id"),
    PersonalRecords("enrollments", enrollments),
    PersonalRecords(
        "teams_created", teams, column="created_by", exclude=frozenset({"invite_code"})
    ),
    PersonalRecords("team_memberships", team_members),
    PersonalRecords("team_requests", team_requests),
    PersonalRecords("scores", leaderboard_submissions, exclude=frozenset({"private_score"})),
    PersonalRecords(
        "leaderboard_rows",
        leaderboard_entries,
        where=lambda user_id: (
            (leaderboard_entries.c.user_id == user_id) & (leaderboard_entries.c.split == "public")
        ),
    ),
    PersonalRecords("activity_points", activity_points),
    PersonalRecords("activity_board_rows", activity_board),
)
