"""Carebook forms domain: versioned form templates, per-appointment instances, answers."""
