#!/usr/bin/env bash
# What the test suite needs beyond Python packages, installed when missing (`make test`
# runs this first): Debian's chromium for the browser tests, Redis for the rate-limit
# tests across processes, node with Mozilla's ical.js for the calendar clients' tests.
# Idempotent and quiet; without root it says what is missing and lets the tests decide.
set -uo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else return 1; fi
}
updated=""
apt_install() {
  if [ -z "$updated" ]; then
    as_root apt-get update -q >/dev/null || return 1
    updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "$@" >/dev/null
}
need() {  # need COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "system-deps: installing ${*:2}"
  apt_install "${@:2}" || echo "system-deps: could not install ${*:2} (not root?); tests that need it skip or fail"
}

need chromium chromium
need redis-server redis-server
need node nodejs npm
need npm npm

if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 1
  done
fi

if command -v npm >/dev/null 2>&1 && [ ! -f tests/calendar/js/node_modules/ical.js/package.json ]; then
  (cd tests/calendar/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || echo "system-deps: npm ci of ical.js failed"
fi
exit 0
