"""Helpers of the scale algorithm."""

IDENTITY = "scale"
