"""Exploring a model: clusters of movie embeddings and their picture."""
