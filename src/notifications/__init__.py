"""Notifications: e-mail, SMS, local outbox, reminders (issue 12)."""
