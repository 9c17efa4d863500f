"""The QA workbench: a server-rendered web app over the tracking database (`secor-intake web`)."""
