"""Carebook calendars domain."""
