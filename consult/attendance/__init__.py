"""attendance pages."""
