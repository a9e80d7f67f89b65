"""Helpers of the other algorithm: same name as the scale algorithm's, different content."""

IDENTITY = "other"
