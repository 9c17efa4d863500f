"""Shared fixtures. Server fixtures live in tests/servers/ and are registered here."""
