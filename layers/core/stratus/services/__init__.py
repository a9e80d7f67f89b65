"""Use cases: plain functions taking the stores they need."""
