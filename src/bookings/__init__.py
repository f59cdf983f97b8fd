"""Carebook bookings domain."""
