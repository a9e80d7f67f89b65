"""One router per resource, mounted under /api/v0 by create_app."""
