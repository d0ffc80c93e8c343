import { CaError } from "../ca/errors.js";

/**
 * What a failed PKCS#11 call means for recovery (PKCS#11 v2.40 §5.1 return values):
 * - `session`: the session handle is gone (closed by C_CloseAllSessions, a token reset): drop it.
 * - `login`: the application is no longer logged in (C_Logout elsewhere, token reset): drop and re-login.
 * - `object`: a cached object handle is stale (objects re-enumerated after logout): re-find the key.
 * - `module`: the library was finalized underneath us: C_Initialize again.
 * - `device`: the token or device failed or disappeared: C_Finalize + C_Initialize.
 * - `pin`: the PIN was refused or is locked: never retry (each retry burns a PIN attempt).
 * - `token-missing`: no token with our label: not retried.
 * - `other`: a programming or input error (bad mechanism, data length…): not retried.
 */
export type Pkcs11Failure = "session" | "login" | "object" | "module" | "device" | "pin" | "token-missing" | "other";

const byCode: Readonly<Record<string, Pkcs11Failure>> = {
  CKR_SESSION_HANDLE_INVALID: "session",
  CKR_SESSION_CLOSED: "session",
  // A session left with an active operation (an earlier call died half-way) cannot start another.
  CKR_OPERATION_ACTIVE: "session",
  CKR_USER_NOT_LOGGED_IN: "login",
  CKR_KEY_HANDLE_INVALID: "object",
  CKR_OBJECT_HANDLE_INVALID: "object",
  CKR_CRYPTOKI_NOT_INITIALIZED: "module",
  CKR_DEVICE_REMOVED: "device",
  CKR_DEVICE_ERROR: "device",
  CKR_DEVICE_MEMORY: "device",
  CKR_TOKEN_NOT_PRESENT: "device",
  CKR_TOKEN_NOT_RECOGNIZED: "device",
  CKR_SLOT_ID_INVALID: "device",
  CKR_GENERAL_ERROR: "device",
  CKR_PIN_INCORRECT: "pin",
  CKR_PIN_INVALID: "pin",
  CKR_PIN_LEN_RANGE: "pin",
  CKR_PIN_EXPIRED: "pin",
  CKR_PIN_LOCKED: "pin",
};

/** Marks errors of our own that recovery must treat like a PKCS#11 failure class. */
export class Pkcs11StateError extends CaError {
  constructor(
    readonly failure: Pkcs11Failure,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super("unavailable", message, options);
  }
}

/** The `CKR_…` name of a pkcs11js error (its message is the name), or undefined for other errors. */
export function ckrName(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const m = /\b(CKR_[A-Z0-9_]+)\b/.exec(e.message);
  return m?.[1];
}

/** Classifies an error thrown by graphene/pkcs11js (or our own {@link Pkcs11StateError}). */
export function classifyPkcs11Error(e: unknown): Pkcs11Failure {
  if (e instanceof Pkcs11StateError) return e.failure;
  const name = ckrName(e);
  return (name && byCode[name]) || "other";
}
