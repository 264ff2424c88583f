"""Evaluation: splits, metrics, and running models side by side."""
