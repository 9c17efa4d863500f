"""Configuration data shipped with secor-intake: vocabularies and rule severities (data, not code)."""
