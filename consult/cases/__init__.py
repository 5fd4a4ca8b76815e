"""Case intake, escalation, issues and evaluation."""
