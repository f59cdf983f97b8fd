"""The clinic staff web app: server-rendered pages under ``/c/{clinic}/staff``."""
