"""operators of the Rocky provider."""
