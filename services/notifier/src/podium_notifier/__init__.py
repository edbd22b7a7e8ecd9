"""Podium notifier service: in-app inbox, e-mail, live push and scheduled reminders."""
