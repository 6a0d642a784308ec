"""Test-only servers (the fake Hyperliquid exchange). Not installed with makerhive: tests
and ``python -m bench`` import it from the repository root."""
