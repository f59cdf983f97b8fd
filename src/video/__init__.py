"""Carebook video domain."""
