"""Console output helpers (plain text by default; Rich only where a command needs it)."""
