#!/usr/bin/env bash
# Builds the secor-intake image with podman, also on a machine that reaches no container registry:
# the debian:bookworm-slim base is made locally with debootstrap from the Debian mirror that apt is
# configured with, and the build's RUN steps reach Debian and PyPI the way the host does.
#
#   scripts/image.sh [image]     secor-intake:VERSION and secor-intake:latest (`make image`)
#   scripts/image.sh stand-ins   PostgreSQL 15 and clamd images from Debian's packages, which the
#                                compose test runs in place of the official images (both: image stand-ins)
#   scripts/image.sh conf        print the podman configuration file to export as CONTAINERS_CONF
#
# A base image already present is used as it is, and the layer cache too, unless SECOR_IMAGE_FRESH=1
# (the default when CI=true): then the base is made anew and every layer rebuilt, as on a new machine.
# Needs: podman, runc, debootstrap (Debian packages; scripts/install-test-servers.sh installs them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="$ROOT/var/podman"
BASE=debian:bookworm-slim
FRESH="${SECOR_IMAGE_FRESH:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}"
VERSION="$(sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' "$ROOT/intake/__init__.py")"

die() { echo "image.sh: $*" >&2; exit 2; }

for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] \
        || die "$tool is missing: apt-get install podman runc debootstrap (or make servers)"
done

# Quirks of these machines, kept out of the Dockerfile: crun refuses the hybrid cgroup layout, so
# runc; podman's default rlimits exceed what the sandbox lets a container set, so the hard limits
# (nproc also capped at pid_max: runc was refused any higher value here).
write_conf() {
    mkdir -p "$STATE"
    local nofile nproc pid_max
    nofile="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"; pid_max="$(cat /proc/sys/kernel/pid_max)"
    [ "$nofile" = unlimited ] && nofile=1048576
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc="$pid_max"; fi
    cat > "$STATE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    export CONTAINERS_CONF="$STATE/containers.conf"
}

# apt's configured sources on the host: one-line (*.list) and deb822 (*.sources) files.
apt_source_files() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -qE '^[[:space:]]*(deb[[:space:]]|URIs:)' "$f" && echo "$f"
    done
    return 0
}

# The Debian archive's address from those sources (the first URI ending in /debian).
debian_mirror() {
    local f
    apt_source_files | while read -r f; do
        case "$f" in
            *.sources) awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }' "$f" ;;
            *) awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[|=|\]$/) { print $i; break } }' "$f" ;;
        esac
    done | grep -E '/debian/?$' | head -n 1
}

BASE_MADE=0
make_base() {
    if [ "$BASE_MADE" = 1 ] || { [ "$FRESH" != 1 ] && podman image exists "$BASE"; }; then
        return
    fi
    BASE_MADE=1
    local mirror rootfs
    mirror="$(debian_mirror)"
    [ -n "$mirror" ] || die "no Debian archive found in apt's sources"
    rootfs="$(mktemp -d /var/tmp/secor-bookworm.XXXXXX)"
    echo "image.sh: debootstrap --variant=minbase bookworm from apt's configured mirror" >&2
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$STATE/debootstrap.log" >&2; die "debootstrap failed"; }
    # Like the official slim image: no apt sources or lists inside (the build mounts the host's),
    # no documentation.
    rm -rf "$rootfs"/etc/apt/sources.list "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$BASE" >/dev/null
    rm -rf "$rootfs"
}

# `podman build` with the host's apt sources, CA bundle and a pip.conf naming it mounted into every
# RUN step (nothing of them stays in the image): TLS to PyPI may go through a proxy the host trusts.
build() {
    local mounts=() f n=0 ca
    while read -r f; do
        n=$((n + 1))
        mounts+=(-v "$f:/etc/apt/sources.list.d/host-$n-$(basename "$f"):ro")
    done < <(apt_source_files)
    [ "$n" -gt 0 ] || die "apt has no sources configured"
    ca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
    [ -f "$ca" ] || die "no CA bundle at $ca"
    printf '[global]\ncert = /run/secor-build/ca.crt\ntimeout = 180\ndisable-pip-version-check = true\n' \
        > "$STATE/pip.conf"
    mounts+=(-v "$ca:/run/secor-build/ca.crt:ro" -v "$STATE/pip.conf:/etc/pip.conf:ro")
    local cache=()
    [ "$FRESH" = 1 ] && cache=(--no-cache)
    podman build --pull=never --format docker --network host "${cache[@]}" "${mounts[@]}" "$@"
}

write_conf
[ $# -gt 0 ] || set -- image
for target in "$@"; do
    case "$target" in
        conf|image|stand-ins) ;;
        *) die "usage: scripts/image.sh [image] [stand-ins] | conf" ;;
    esac
done
for target in "$@"; do
    case "$target" in
        conf)
            echo "$STATE/containers.conf" ;;
        image)
            make_base
            build --build-arg "VERSION=$VERSION" -t "secor-intake:$VERSION" -t secor-intake:latest "$ROOT" ;;
        stand-ins)
            make_base
            build -t secor-postgres-standin:15 "$ROOT/tests/images/postgres"
            build -t secor-clamd-standin:latest "$ROOT/tests/images/clamd" ;;
    esac
done
# A fresh build leaves the previous build's layers unnamed: drop them, so runs do not pile up.
[ "$FRESH" = 1 ] && podman image prune -f >/dev/null
exit 0
