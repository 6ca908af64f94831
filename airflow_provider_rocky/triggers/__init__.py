"""triggers of the Rocky provider."""
