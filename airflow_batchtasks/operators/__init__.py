"""Operators of a batch task's pipeline: extract -> package -> deliver."""
