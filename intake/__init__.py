"""secor-intake: mailbox sources, message parsing, pipeline, tracking database, storage, replies, scheduler, CLI."""
