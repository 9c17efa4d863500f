"""secor-intake: mailbox sources, message parsing, pipeline, tracking database, storage, replies, scheduler, CLI."""

__version__ = "0.3.0"  # the one place: pyproject.toml reads it, `secor-intake --version` shows it
