# opencryptoki for the tests (docs/hsm-vendors.md): its slot daemon and its software token ("swtok").
# Sourced by scripts/services.sh, whose helpers it uses (log, is_root, apt_install, install_hint, find_bin)
# and whose OCK_DIR (PIN files, owner-only: machine-wide as root), OCK_STARTED and OCK_LABEL it reads.
# Sets OCK_MODULE when usable.
#
# What cannot be moved under ./var (opencryptoki 3.8.1, Debian 12; docs/hsm-vendors.md §"Where its state lives"):
# the configuration /etc/opencryptoki/opencryptoki.conf, the daemon's socket /var/run/pkcsslotd.socket and
# the token directory /var/lib/opencryptoki/swtok are compiled in; PKCS_APP_STORE, meant to move the token
# directory, writes NVTOK.DAT to / instead. So the token is the machine's one software token, and it is
# used only when it is blank (then initialised here, label jpki-test-ock) or its PINs are in OCK_DIR.

OCK_CONF=/etc/opencryptoki/opencryptoki.conf
OCK_PIDFILE=/var/run/pkcsslotd.pid
OCK_FACTORY_SO_PIN=87654321               # the SO PIN of a blank opencryptoki token (pkcsconf(1))
OCK_PACKAGES=(opencryptoki libopencryptoki0)
OCK_MODULE=""
OCK_PRELOAD="" # libitm, to be loaded at process start (see ock_preload)

ock_module_path() { ls /usr/lib/*/pkcs11/libopencryptoki.so 2>/dev/null | head -n 1; }

# The slot of the software token: the `slot N { stdll = libpkcs11_sw.so }` entry of opencryptoki.conf.
ock_slot() {
  awk '/^[[:space:]]*slot[[:space:]]+[0-9]+/ { slot = $2 } /stdll[[:space:]]*=[[:space:]]*libpkcs11_sw\.so/ { print slot; exit }' "$OCK_CONF" 2>/dev/null
}

ock_daemon_pid() {
  local pid
  [ -r "$OCK_PIDFILE" ] || return 1
  pid="$(cat "$OCK_PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q pkcsslotd && echo "$pid"
}

# Prints the token's label and flags as "label|flags" (pkcsconf -t), or fails when the daemon cannot be reached.
ock_token_state() { # pkcsconf slot
  local out label flags
  out="$("$1" -t -c "$2" 2>/dev/null)" || return 1
  label="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Label:[[:space:]]*//p' | sed 's/[[:space:]]*$//' | head -n 1)"
  flags="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Flags:[[:space:]]*//p' | head -n 1)"
  echo "$label|$flags"
}

ock_random_pin() { node -e 'process.stdout.write(require("crypto").randomBytes(4).toString("hex"))'; } # 8 characters: the token takes 4-8

ock_start_daemon() { # pkcsslotd
  # /var/lock is a tmpfs: the lock directories the package made at install time are gone after a reboot
  # (the init script makes them again; so do we).
  local d
  for d in "" /swtok /tpm /icsf /lite /ccatok /ep11tok; do
    mkdir -m 0770 -p "/var/lock/opencryptoki$d" && chown root:pkcs11 "/var/lock/opencryptoki$d"
  done
  "$1" || return 1
  local n=50
  while ! ock_daemon_pid >/dev/null; do n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.1; done
  ock_daemon_pid >"$OCK_STARTED"
  log "opencryptoki slot daemon started"
}

# Blank token → initialised with our label, a random SO PIN and user PIN (PIN files under $OCK_DIR).
ock_init_token() { # pkcsconf slot
  local so pin
  so="$(ock_random_pin)"
  pin="$(ock_random_pin)"
  printf '%s\n' "$OCK_LABEL" | "$1" -I -c "$2" -S "$OCK_FACTORY_SO_PIN" >/dev/null || return 1
  "$1" -P -c "$2" -S "$OCK_FACTORY_SO_PIN" -n "$so" >/dev/null || return 1
  printf '%s' "$so" >"$OCK_DIR/so-pin"
  "$1" -u -c "$2" -S "$so" -n "$pin" >/dev/null || return 1
  printf '%s' "$pin" >"$OCK_DIR/pin"
  log "opencryptoki software token (slot $2) initialised as '$OCK_LABEL'"
}

# The GNU transactional-memory runtime the token libraries link (libitm): loaded late, by the dlopen of
# the PKCS#11 module into a process that already holds SoftHSM and PGlite, its first transaction
# segfaults inside C_Initialize (_ITM_beginTransaction ← session_mgr_close_all_sessions ← ST_Initialize);
# loaded at process start (LD_PRELOAD) it does not. docs/hsm-vendors.md §"libitm".
ock_preload() {
  ldd /usr/lib/*/opencryptoki/stdll/libpkcs11_sw.so 2>/dev/null | awk '/libitm/ { print $3; exit }'
}

# Sets OCK_MODULE when the software token is ready for the tests; otherwise says why, and returns 0.
start_opencryptoki() {
  local pkcsconf pkcsslotd slot state label flags
  pkcsconf="$(find_bin pkcsconf || true)"
  pkcsslotd="$(find_bin pkcsslotd || true)"
  if [ -z "$pkcsconf" ] || [ -z "$(ock_module_path)" ]; then
    apt_install "${OCK_PACKAGES[@]}" || true
    pkcsconf="$(find_bin pkcsconf || true)"
    pkcsslotd="$(find_bin pkcsslotd || true)"
  fi
  if [ -z "$pkcsconf" ] || [ -z "$pkcsslotd" ] || [ -z "$(ock_module_path)" ]; then
    is_root && die "cannot set up opencryptoki: installing ${OCK_PACKAGES[*]} failed"
    log "warning: opencryptoki left out (its tests fail with CI=true): Debian packages ${OCK_PACKAGES[*]} missing; $(install_hint "${OCK_PACKAGES[@]}")"
    return 0
  fi
  slot="$(ock_slot)"
  [ -n "$slot" ] || { log "warning: opencryptoki left out: no software token (libpkcs11_sw.so) slot in $OCK_CONF"; return 0; }
  (umask 077 && mkdir -p "$OCK_DIR") || { log "warning: opencryptoki left out: cannot create $OCK_DIR"; return 0; }
  if ! ock_daemon_pid >/dev/null; then
    if ! is_root; then
      log "warning: opencryptoki left out (its tests fail with CI=true): its slot daemon is not running; as root: $pkcsslotd (or systemctl start pkcsslotd), and add this user to group pkcs11"
      return 0
    fi
    ock_start_daemon "$pkcsslotd" || die "opencryptoki's slot daemon $pkcsslotd did not start"
  fi
  if ! state="$(ock_token_state "$pkcsconf" "$slot")"; then
    log "warning: opencryptoki left out: pkcsconf cannot reach the slot daemon (is $(id -un) in group pkcs11?)"
    return 0
  fi
  label="${state%%|*}"
  flags="${state#*|}"
  case "$flags" in
    *TOKEN_INITIALIZED*) ;;
    *)
      is_root || { log "warning: opencryptoki left out: its software token is blank and only root initialises it here"; return 0; }
      ock_init_token "$pkcsconf" "$slot" || die "initialising opencryptoki's software token (slot $slot) failed"
      label="$OCK_LABEL"
      ;;
  esac
  if [ "$label" != "$OCK_LABEL" ] || [ ! -s "$OCK_DIR/pin" ] || [ ! -s "$OCK_DIR/so-pin" ]; then
    log "warning: opencryptoki left out: the machine's software token (slot $slot, label '$label') was initialised elsewhere (no PINs in $OCK_DIR); it is left alone (docs/hsm-vendors.md says how to reset it)"
    return 0
  fi
  OCK_MODULE="$(ock_module_path)"
  OCK_PRELOAD="$(ock_preload)"
  log "opencryptoki software token '$OCK_LABEL' ready (slot $slot)"
}

# Stops the slot daemon only if start_opencryptoki started it; the token and its PIN files stay.
stop_opencryptoki() {
  local pid
  [ -f "$OCK_STARTED" ] || return 0
  if pid="$(ock_daemon_pid)" && [ "$pid" = "$(cat "$OCK_STARTED")" ]; then
    kill "$pid"
    wait_for 20 bash -c "! kill -0 $pid" || { kill -9 "$pid" 2>/dev/null || true; }
    log "opencryptoki slot daemon stopped"
  fi
  rm -f "$OCK_STARTED"
}
