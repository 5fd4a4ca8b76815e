"""The demo town of DESIGN.md."""
