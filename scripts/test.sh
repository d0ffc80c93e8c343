#!/usr/bin/env bash
# `npm test` (docs/api.md §1): lint, type-check, then the whole suite — unit, integration against real
# PostgreSQL, SoftHSM and NATS JetStream, end-to-end with openssl. Throwaway PostgreSQL and NATS (and, as
# root, opencryptoki's slot daemon: docs/hsm-vendors.md) are started from Debian's packages when
# DATABASE_URL / NATS_URL are not given, and stopped afterwards. Runs as root or as an ordinary user.
set -euo pipefail
cd "$(dirname "$0")/.."
# What the tests write under ./var is owner-only (issue 12) without each test asking for it; the shared
# PostgreSQL of scripts/services.sh and the cluster test's own grant the search permission they need.
umask 077
export SOFTHSM2_CONF="${SOFTHSM2_CONF:-$PWD/var/hsm/softhsm2.conf}"

started_services=0
cleanup() { if [ "$started_services" = 1 ]; then bash scripts/services.sh stop || true; fi; }
trap cleanup EXIT
if [ -z "${DATABASE_URL:-}" ] || [ -z "${NATS_URL:-}" ]; then
  bash scripts/services.sh start
  started_services=1
  # shellcheck disable=SC1091
  . var/test/services.env
fi

# TEST_STATIC_CHECKS=0 leaves out lint and type-check (.ci/run's second, unprivileged run: done once already).
if [ "${TEST_STATIC_CHECKS:-1}" != 0 ]; then
  echo "== lint"
  npx eslint .
  echo "== typecheck"
  npx tsc --noEmit -p .
fi
echo "== tests"
npx c8 --reporter=text-summary --reporter=html --report-dir=coverage \
  mocha --reporter test/support/summary-reporter.cjs "${@:-test/**/*.test.ts}"
