"""Statistics of the programme: cases, issues and sessions, by aggregate SQL."""
