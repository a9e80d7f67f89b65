"""Stratus core: the one package shared by every Lambda function, the worker and the local stack."""
