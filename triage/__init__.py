"""Archive safety and triage rules: pure functions of a submission, no network."""
