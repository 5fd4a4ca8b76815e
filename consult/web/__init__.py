"""The web shell: home page, statistics page, health check."""
