#!/usr/bin/env bash
# Installs the servers and tools the test suite talks to (PostgreSQL is already running on the
# machine): Dovecot for IMAP, unzip for the benchmarks' baseline, libmagic for python-magic, and
# Debian's chromium for the workbench's browser tests (driven by Playwright; never `playwright install`).
# clamd (clamav-daemon) for virus scanning: the tests start their own with a test signature database.
# systemd for `systemd-analyze verify` of the service units (deploy/systemd/).
# podman (with iptables for its networks), runc and debootstrap for the container image and compose tests (scripts/image.sh; podman-compose
# comes from PyPI with the test extra: Debian's 1.0.3 leaves the compose network behind at `down`).
set -euo pipefail
need=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || need+=(libmagic1)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ] || need+=(clamav-daemon)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v podman >/dev/null 2>&1 || need+=(podman netavark aardvark-dns slirp4netns)  # not all podman's by default without recommends
# netavark sets up a container's network with iptables; without it every `podman run` fails with
# "netavark: No such file or directory" (a machine without iptables was seen in the sixth session).
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || need+=(iptables)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need+=(runc)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# Debian starts the system Dovecot on install; the tests run their own, unprivileged, on other ports.
