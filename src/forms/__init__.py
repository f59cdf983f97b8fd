"""Forms: intake and post-appointment form templates and instances (issue 13)."""
