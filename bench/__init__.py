"""Benchmarks (scripts, not tests) and their helpers."""
