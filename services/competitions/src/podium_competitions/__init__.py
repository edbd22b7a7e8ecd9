"""Podium competitions service: competitions, joins and enrollments, and the leaderboard projection."""
