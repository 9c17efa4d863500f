"""The `[links]` configuration section: how share links are downloaded."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkSettings:
    allow_private_networks: bool = False  # every address we connect to must be public unless true
    resolve: dict[str, str] = field(default_factory=dict)  # host -> "ip:port", trusted operator pinning
    ca_bundle: str = ""  # extra CA file to trust; default the system's
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 30.0
    deadline_seconds: float = 900.0  # whole download, however the server trickles
    min_bytes_per_second: int = 10_000  # averaged after the first read time-out window
    max_redirects: int = 5
    extra_hosts: list[str] = field(default_factory=list)  # hosts allowed besides the providers' (".x" = sub-domains)
