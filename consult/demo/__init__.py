"""The demo town: a town of the programme with its communities, people and records."""
