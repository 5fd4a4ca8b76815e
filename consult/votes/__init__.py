"""Votes on agenda items, and the quorum rules of each community."""
