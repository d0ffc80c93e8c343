// The idle lock (docs/domain.md §6 and docs/security.md §1: sessions end after 15 idle minutes; docs/console.md): after the
// idle time without a key press, click or scroll, the session is ended at the API (DELETE
// /v1/sessions/current) and the console asks to log in again. The page may be opened with
// `?idleSeconds=N` to make the lock SHORTER (tests, a stricter site); it can never be longer than 15 minutes.

export const MAX_IDLE_SECONDS = 15 * 60;

/** The idle time of this page: `?idleSeconds=` when it is a whole number between 5 and 900, else 900. */
export function idleSeconds(search = location.search) {
  const v = Number(new URLSearchParams(search).get("idleSeconds"));
  return Number.isInteger(v) && v >= 5 && v <= MAX_IDLE_SECONDS ? v : MAX_IDLE_SECONDS;
}

/** Starts watching; `lock()` runs once when the time passes. Returns a stop function. */
export function startIdleLock(lock, seconds = idleSeconds()) {
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(fire, seconds * 1000);
  };
  const events = ["keydown", "pointerdown", "wheel", "touchstart"];
  const fire = () => {
    stop();
    lock();
  };
  const stop = () => {
    clearTimeout(timer);
    for (const e of events) document.removeEventListener(e, arm, true);
  };
  for (const e of events) document.addEventListener(e, arm, true);
  arm();
  return stop;
}
