#!/usr/bin/env bash
# Installs jobsd as a systemd service on this host:
#   publishes the daemon to /opt/jobsd, creates the `jobsd` system user and its
#   directories, installs the unit, and puts an example configuration in place
#   without ever overwriting an existing one. Run as root from a checkout.
#
#   deploy/systemd/install.sh [--no-start]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=${JOBSD_PREFIX:-/opt/jobsd}
start=1
[ "${1:-}" = "--no-start" ] && start=0

if [ "$(id -u)" -ne 0 ]; then echo "install.sh: run as root" >&2; exit 1; fi

dotnet publish "$repo/src/Daemon" -c Release -o "$prefix" -nologo -v quiet
install -m 0644 "$repo/README.md" "$prefix/README.md"

id jobsd >/dev/null 2>&1 || useradd --system --home-dir /var/lib/jobsd --shell /usr/sbin/nologin jobsd
install -d -m 0750 -o root -g jobsd /etc/jobsd /etc/jobsd/credentials
[ -e /etc/jobsd/appsettings.json ] || install -m 0640 -o root -g jobsd "$repo/deploy/systemd/appsettings.example.json" /etc/jobsd/appsettings.json
[ -e /etc/jobsd/jobsd.env ] || install -m 0640 -o root -g jobsd "$repo/deploy/systemd/jobsd.env.example" /etc/jobsd/jobsd.env
if [ ! -e /etc/jobsd/credentials/Database__Password ]; then
  install -m 0600 -o root -g root /dev/null /etc/jobsd/credentials/Database__Password
  echo "install.sh: put the database password in /etc/jobsd/credentials/Database__Password" >&2
fi

install -m 0644 "$repo/deploy/systemd/jobsd.service" /etc/systemd/system/jobsd.service
systemctl daemon-reload
"$prefix/jobsd" check --config /etc/jobsd/appsettings.json || echo "install.sh: fix the findings above, then: systemctl start jobsd" >&2
if [ "$start" = 1 ]; then systemctl enable --now jobsd; fi
