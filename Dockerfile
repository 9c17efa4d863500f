# secor-intake daemon image. Configuration at /etc/secor-intake/secor-intake.toml (mount it, or set
# SECOR_INTAKE_* variables); data (SQLite, storage, health file) under /var/lib/secor-intake.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/secor-intake --create-home secor

WORKDIR /opt/secor-intake
COPY pyproject.toml README.md ./
COPY intake ./intake
COPY triage ./triage
COPY fetchers ./fetchers
COPY config ./config
RUN pip install --no-cache-dir . && rm -rf /opt/secor-intake/build

USER secor
WORKDIR /var/lib/secor-intake
ENV SECOR_INTAKE_CONFIG=/etc/secor-intake/secor-intake.toml
VOLUME ["/var/lib/secor-intake"]
# 9464: the daemon's /metrics ([metrics] port); 8080 and 9465: the workbench and its /metrics.
EXPOSE 9464 8080 9465
# `secor-intake health` exits 1 when the last successful poll is too old or something needs a person.
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m CMD ["secor-intake", "health"]
ENTRYPOINT ["secor-intake"]
CMD ["run"]
