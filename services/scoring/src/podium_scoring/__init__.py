"""Podium scoring service: validates and scores prediction submissions with numpy."""
