"""Mail: the outbox and its delivery."""
