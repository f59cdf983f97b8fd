"""Clinics (tenants), platform users, onboarding, clinic staff and their credentials."""
