"""Carebook statistics domain: per clinic, specialist and calendar, maintained by the lifecycle."""
