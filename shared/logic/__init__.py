"""Use cases: plain functions over models and the repositories."""
