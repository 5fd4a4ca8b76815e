"""Agendas, minutes, resolutions and actions."""
