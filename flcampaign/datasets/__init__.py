"""Trusted loaders that turn a task's raw files into per-site train / search-validation / held-out splits."""
