"""Published numba programs and their framealloc ports (only the temporaries change)."""
