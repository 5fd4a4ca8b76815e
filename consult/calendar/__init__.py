"""Calendar files and subscribable feeds."""
