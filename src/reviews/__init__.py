"""Carebook reviews domain."""
