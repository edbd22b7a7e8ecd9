"""Podium competitions service: competitions, enrollments and leaderboards."""
