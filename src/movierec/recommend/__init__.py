"""A trained `Recommender`: ids and titles in, recommendations out; its artifact on disk."""
