#!/usr/bin/env bash
# Bootstrap for `npm start`, `npm test` and `npm run bench` (docs/api.md §1): installs what is missing and
# prepares the project-local SoftHSM token under ./var/. Idempotent; safe to run on every start.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VAR="${CA_VAR_DIR:-$ROOT/var}"
case "$VAR" in /*) ;; *) VAR="$ROOT/$VAR" ;; esac
say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

# 1. Node.js: pkijs/asn1js and graphene need Node >= 20.19.
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js >= 20.19 is required (found $(node --version))"

# 2. Debian packages: softhsm2 (the default HSM) and openssl (key ceremony checks, tests); opensc for tests,
#    wrk for benchmarks.
#    Programs are looked for where the packages put them, not only on PATH (an ordinary user's PATH has no
#    /usr/sbin); the same places as scripts/services.sh find_bin and test/support/system-binaries.ts.
find_bin() { # program → its path
  local d
  for d in $(printf '%s' "${PATH:-}" | tr ':' ' ') /usr/bin /usr/sbin /bin /sbin /usr/local/bin /usr/local/sbin; do
    case "$d" in /*) [ -x "$d/$1" ] && [ ! -d "$d/$1" ] && { echo "$d/$1"; return 0; } ;; esac
  done
  return 1
}
has_bin() { find_bin "$1" >/dev/null; }
need_pkgs=()
has_bin softhsm2-util || need_pkgs+=(softhsm2)
has_bin openssl || need_pkgs+=(openssl)
# `npm test` (bootstrap.sh --test): pkcs11-tool (opensc), an independent reader of the keys made in the token.
if [ "${1:-}" = "--test" ]; then has_bin pkcs11-tool || need_pkgs+=(opensc); fi
# `npm test`: Debian's chromium, the headless browser of test/browser/ (issue 17; no browser download).
if [ "${1:-}" = "--test" ]; then has_bin chromium || need_pkgs+=(chromium); fi
#   and a Japanese font, so that its screenshots of the console's Japanese labels are legible.
if [ "${1:-}" = "--test" ]; then [ -e /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || need_pkgs+=(fonts-ipafont-gothic); fi
# `npm run bench` (bootstrap.sh --bench): wrk, the OCSP load generator.
if [ "${1:-}" = "--bench" ]; then has_bin wrk || need_pkgs+=(wrk); fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    # Not root: apt-get cannot run here. Say what is missing and the command that installs it.
    die "missing Debian package(s): ${need_pkgs[*]}. Install them as root: apt-get install ${need_pkgs[*]} (or: sudo apt-get install ${need_pkgs[*]})"
  fi
fi

# 3. npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# 4. ./var holds keys, tokens, the embedded database and demo credentials: owner-only (issue 12).
#    Created 0700; an existing one loses group/other read and write. Search permission (x) alone is left
#    as found: scripts/services.sh grants it so that its PostgreSQL (user postgres) reaches ./var/test, and
#    it lets nobody list or read anything (the service checks the rest at start-up: cli/var-permissions.ts).
umask 077 # from here on, everything made (./var, the SoftHSM configuration, PINs) is owner-only
[ -d "$VAR" ] || mkdir -m 700 -p "$VAR"
chmod go-rw "$VAR"

# 5. The project-local SoftHSM token (found by label, never by slot number).
if [ -z "${CA_HSM_MODULE:-}" ] || [ "${CA_HSM_MODULE:-}" = "/usr/lib/softhsm/libsofthsm2.so" ]; then
  HSM="$VAR/hsm"
  LABEL="${CA_HSM_TOKEN_LABEL:-jpki-ca}"
  mkdir -p "$HSM/tokens"
  chmod 700 "$HSM" "$HSM/tokens"
  CONF="$HSM/softhsm2.conf"
  if [ ! -f "$CONF" ]; then
    # SoftHSM resolves a relative tokendir against the process's cwd: always write an absolute path.
    cat > "$CONF" <<CONF
directories.tokendir = $HSM/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
  fi
  chmod 600 "$CONF" # one written before the umask above was 0644
  export SOFTHSM2_CONF="$CONF"
  [ -s "$HSM/pin" ] || node -e 'process.stdout.write(require("crypto").randomBytes(12).toString("hex"))' > "$HSM/pin"
  [ -s "$HSM/so-pin" ] || node -e 'process.stdout.write(require("crypto").randomBytes(12).toString("hex"))' > "$HSM/so-pin"
  SOFTHSM2_UTIL="$(find_bin softhsm2-util)"
  if ! "$SOFTHSM2_UTIL" --show-slots 2>/dev/null | grep -Eq "^[[:space:]]*Label:[[:space:]]+$LABEL[[:space:]]*$"; then
    say "creating SoftHSM token '$LABEL' under $HSM/tokens"
    "$SOFTHSM2_UTIL" --init-token --free --label "$LABEL" --so-pin "$(cat "$HSM/so-pin")" --pin "$(cat "$HSM/pin")" >/dev/null
  fi
fi
say "ready"
