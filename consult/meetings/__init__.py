"""Sessions: scheduling, series, venues."""
