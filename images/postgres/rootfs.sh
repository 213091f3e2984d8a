#!/usr/bin/env bash
# rootfs.sh <dir> <mirror>: a Debian bookworm root filesystem with PostgreSQL 15 whose postgres
# user and group are 999 (as the official image's, which the program's postgres builder
# expects), made by debootstrap from Debian's packages. Run as root.
set -euo pipefail
root=$1 mirror=$2
debootstrap --variant=minbase --no-merged-usr bookworm "$root" "$mirror" >&2 || { tail -20 "$root/debootstrap/debootstrap.log" >&2; exit 1; }
# The ids first: the package then keeps them instead of picking its own.
chroot "$root" groupadd --system --gid 999 postgres
chroot "$root" useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/sh postgres
# No service starts during the install, and no cluster is created (the entry point runs initdb).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common"
echo "create_main_cluster = false" > "$root/etc/postgresql-common/createcluster.conf"
chroot "$root" apt-get update -qq >&2
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >&2
rm -f "$root/usr/sbin/policy-rc.d"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/var/log/*.log "$root"/var/cache/debconf/*-old "$root"/debootstrap "$root"/var/log/apt/*
install -d -o 999 -g 999 -m 2775 "$root/var/run/postgresql" "$root/var/lib/postgresql/data"
install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/entrypoint.sh" "$root/usr/local/bin/postgres-entrypoint"
