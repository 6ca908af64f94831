"""hooks of the Rocky provider."""
