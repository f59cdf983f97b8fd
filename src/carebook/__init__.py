"""Carebook: multi-tenant scheduling and appointments for clinics."""

import os

# Piccolo finds its engine and app registry here (the root piccolo_conf.py re-exports it).
os.environ.setdefault("PICCOLO_CONF", "carebook.piccolo_conf")
