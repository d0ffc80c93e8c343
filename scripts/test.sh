#!/usr/bin/env bash
# `npm test` (docs/api.md §1): lint, type-check, then the whole suite — unit, integration against real
# PostgreSQL, SoftHSM and NATS JetStream, end-to-end with openssl. Throwaway PostgreSQL and NATS are
# started from Debian's packages when DATABASE_URL / NATS_URL are not given, and stopped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
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

echo "== lint"
npx eslint .
echo "== typecheck"
npx tsc --noEmit -p .
echo "== tests"
npx c8 --reporter=text-summary --reporter=html --report-dir=coverage \
  mocha --reporter test/support/summary-reporter.cjs "${@:-test/**/*.test.ts}"
