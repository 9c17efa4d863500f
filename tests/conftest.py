"""Shared fixtures. Server fixtures live in tests/servers/ and are registered here."""

pytest_plugins = ["tests.servers.oauth2", "tests.servers.dovecot", "tests.servers.smtp", "tests.servers.postgres",
                  "tests.servers.providers", "tests.servers.browser", "tests.servers.clamd", "tests.pipeline_fixtures"]
