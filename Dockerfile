# secor-intake image. Configuration at /etc/secor-intake/secor-intake.toml (mount it, or set
# SECOR_INTAKE_* variables); data (SQLite, storage, health file) under /var/lib/secor-intake.
# Built and smoke-tested by `make image` (scripts/image.sh), also where no registry can be reached.
# Both stages on Debian's own Python 3.11, so the venv built in the first runs in the second.

FROM debian:bookworm-slim AS build
# zipfile-deflate64 has no wheel for Python 3.11: it compiles, so the build stage has a compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/secor-intake
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY intake ./intake
COPY triage ./triage
COPY fetchers ./fetchers
COPY config ./config
RUN /opt/secor-intake/bin/pip install --no-cache-dir .

FROM debian:bookworm-slim
ARG VERSION=unknown
LABEL org.opencontainers.image.title="secor-intake" \
      org.opencontainers.image.description="Email-intake and triage daemon for SECOR safety-certification submissions" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libmagic1 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 999 --user-group --home-dir /var/lib/secor-intake --create-home secor
COPY --from=build /opt/secor-intake /opt/secor-intake

USER secor
WORKDIR /var/lib/secor-intake
ENV PATH=/opt/secor-intake/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    SECOR_INTAKE_CONFIG=/etc/secor-intake/secor-intake.toml
VOLUME ["/var/lib/secor-intake"]
# 9464: the daemon's /metrics ([metrics] port); 8080 and 9465: the workbench and its /metrics.
EXPOSE 9464 8080 9465
# `secor-intake health` exits 1 when the last successful poll is too old or something needs a person.
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m CMD ["secor-intake", "health"]
ENTRYPOINT ["secor-intake"]
CMD ["run"]
