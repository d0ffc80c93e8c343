import { commonPasswords } from "./common-passwords.js";
import { CaError } from "../errors.js";
import type { Random } from "../ports.js";

/**
 * Operator password rules (久御山町 規程 第18条, 第20条の2; 告示334号 第4-4(2): at least 8 characters,
 * not guessable, expiring, changed at first logon). Data-driven: the numbers and the word list are a
 * `PasswordPolicy` value, checked by a pure function. Results name the rule that failed and never echo
 * the password (docs/design.md invariant 6).
 *
 * Passwords are compared after Unicode NFKC normalisation (NIST SP 800-63B §5.1.1.2), so a password
 * typed with full-width characters on a Japanese IME is the same password as its half-width form.
 * Lengths count code points.
 */
export interface PasswordPolicy {
  /** Minimum length; default 12, never below 8 (the regulations' floor). */
  readonly minLength: number;
  /** Maximum length (bounds hashing work and request size); default 256. */
  readonly maxLength: number;
  /** A run of this many identical characters is refused (default 4: "aaaa"). */
  readonly maxRun: number;
  /** A run of this many consecutive letters or digits, up or down, is refused (default 4: "abcd", "4321"). */
  readonly maxSequence: number;
  /** Lower-case common passwords, refused as they are and with digits/symbols added around them. */
  readonly commonPasswords: ReadonlySet<string>;
  /** Days after a change when the password must be changed again; default 90. */
  readonly maxAgeDays: number;
}

/** The regulations' floor for `minLength`. */
export const MIN_PASSWORD_LENGTH_FLOOR = 8;

export const defaultPasswordPolicy: PasswordPolicy = Object.freeze({
  minLength: 12,
  maxLength: 256,
  maxRun: 4,
  maxSequence: 4,
  commonPasswords: new Set(commonPasswords),
  maxAgeDays: 90,
});

/**
 * A policy from overrides of the defaults. CaError("invalid-input", field = the setting) when a value
 * is out of range, notably a minimum length below 8.
 */
export function passwordPolicy(overrides: Partial<PasswordPolicy> = {}): PasswordPolicy {
  const p = { ...defaultPasswordPolicy, ...overrides };
  const bad = (field: string, why: string): never => {
    throw new CaError("invalid-input", `password policy ${field} ${why}`, { field });
  };
  if (!Number.isInteger(p.minLength) || p.minLength < MIN_PASSWORD_LENGTH_FLOOR) bad("minLength", `must be an integer ≥ ${MIN_PASSWORD_LENGTH_FLOOR}`);
  if (!Number.isInteger(p.maxLength) || p.maxLength < p.minLength || p.maxLength > 1024) bad("maxLength", "must be an integer from minLength to 1024");
  if (!Number.isInteger(p.maxRun) || p.maxRun < 2) bad("maxRun", "must be an integer ≥ 2");
  if (!Number.isInteger(p.maxSequence) || p.maxSequence < 3) bad("maxSequence", "must be an integer ≥ 3");
  if (!Number.isInteger(p.maxAgeDays) || p.maxAgeDays < 1) bad("maxAgeDays", "must be an integer ≥ 1");
  return Object.freeze(p);
}

export type PasswordRule =
  | "too-short"
  | "too-long"
  | "contains-operator-id"
  | "repeated-characters"
  | "sequential-characters"
  | "common-password";

export type PasswordCheck = { readonly ok: true } | { readonly ok: false; readonly rule: PasswordRule; readonly message: string };

/** Ids shorter than this are only refused when the whole password equals them (else "a" would ban every "a"). */
const MIN_ID_FOR_CONTAINS = 3;

/** Unicode NFKC, as hashing and checking both see the password. */
export const normalizePassword = (password: string): string => password.normalize("NFKC");

/**
 * Checks `password` against `policy` for the operator `operatorId`. Returns the first rule broken, in
 * the order: length, operator id, repeated run, sequence, common password.
 */
export function checkPassword(password: string, context: { operatorId: string }, policy: PasswordPolicy = defaultPasswordPolicy): PasswordCheck {
  const pw = normalizePassword(password);
  const length = [...pw].length;
  if (length < policy.minLength) return fail("too-short", `password must be at least ${policy.minLength} characters`);
  if (length > policy.maxLength) return fail("too-long", `password must be at most ${policy.maxLength} characters`);
  const lower = pw.toLowerCase();
  const id = context.operatorId.normalize("NFKC").toLowerCase();
  if (id.length > 0 && (lower === id || (id.length >= MIN_ID_FOR_CONTAINS && lower.includes(id)))) {
    return fail("contains-operator-id", "password must not contain the operator id");
  }
  if (longestRun(lower) >= policy.maxRun) return fail("repeated-characters", `password must not repeat a character ${policy.maxRun} or more times in a row`);
  if (longestSequence(lower) >= policy.maxSequence) {
    return fail("sequential-characters", `password must not contain ${policy.maxSequence} or more consecutive letters or digits (abcd, 4321)`);
  }
  if (isCommon(lower, policy.commonPasswords)) return fail("common-password", "password is too common");
  return { ok: true };
}

/** Like checkPassword, throwing CaError("unprocessable", field) naming the rule. */
export function assertPasswordAcceptable(
  password: string,
  context: { operatorId: string },
  policy: PasswordPolicy = defaultPasswordPolicy,
  field = "newPassword",
): void {
  const r = checkPassword(password, context, policy);
  if (!r.ok) throw new CaError("unprocessable", `${r.message} (rule: ${r.rule})`, { field });
}

function fail(rule: PasswordRule, message: string): PasswordCheck {
  return { ok: false, rule, message };
}

/** Length of the longest run of one repeated code point. */
function longestRun(s: string): number {
  const cps = [...s];
  let best = cps.length > 0 ? 1 : 0;
  let run = 1;
  for (let i = 1; i < cps.length; i++) {
    run = cps[i] === cps[i - 1] ? run + 1 : 1;
    best = Math.max(best, run);
  }
  return best;
}

/** Length of the longest run of consecutive a–z or 0–9 characters going up or down by one. */
function longestSequence(s: string): number {
  const classOf = (c: string | undefined): string | undefined => (c === undefined ? undefined : /[a-z]/.test(c) ? "letter" : /[0-9]/.test(c) ? "digit" : undefined);
  let best = 0;
  let run = 0;
  let step = 0;
  for (let i = 0; i < s.length; i++) {
    const cls = classOf(s[i]);
    const d = i > 0 ? s.charCodeAt(i) - s.charCodeAt(i - 1) : 0;
    if (cls === undefined) {
      run = 0;
    } else if (run > 0 && classOf(s[i - 1]) === cls && (d === 1 || d === -1)) {
      run = d === step ? run + 1 : 2; // a change of direction ("abcb") restarts at the last pair
      step = d;
    } else {
      run = 1;
      step = 0;
    }
    best = Math.max(best, run);
  }
  return best;
}

/** The password itself, or its core once digits and symbols around it are stripped, is a common password. */
function isCommon(lower: string, list: ReadonlySet<string>): boolean {
  if (list.has(lower)) return true;
  const core = lower.replace(/^[^\p{L}]+/u, "").replace(/[^\p{L}]+$/u, "");
  return core.length > 0 && core !== lower && list.has(core);
}

const LOWER = "abcdefghijkmnopqrstuvwxyz"; // no l (confused with 1 and I)
const UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"; // no I, O
const DIGITS = "23456789"; // no 0, 1
const SYMBOLS = "-_.!#%+=";

/**
 * A random password that passes `policy` for `operatorId` (for a new operator's one-time password):
 * `length` characters (default max(16, minLength)) from an unambiguous alphabet with at least one
 * lower-case letter, upper-case letter, digit and symbol, drawn without modulo bias from `random`.
 */
export function generatePassword(random: Random, operatorId: string, policy: PasswordPolicy = defaultPasswordPolicy, length?: number): string {
  const n = length ?? Math.max(16, policy.minLength);
  if (n < policy.minLength || n > policy.maxLength || n < 4) throw new CaError("invalid-input", "generated password length outside the policy", { field: "length" });
  const all = LOWER + UPPER + DIGITS + SYMBOLS;
  for (let attempt = 0; attempt < 100; attempt++) {
    const chars = [pick(random, LOWER), pick(random, UPPER), pick(random, DIGITS), pick(random, SYMBOLS)];
    while (chars.length < n) chars.push(pick(random, all));
    // Fisher–Yates so the four guaranteed classes are not always in front.
    for (let i = chars.length - 1; i > 0; i--) {
      const j = uniform(random, i + 1);
      [chars[i], chars[j]] = [chars[j]!, chars[i]!];
    }
    const pw = chars.join("");
    if (checkPassword(pw, { operatorId }, policy).ok) return pw;
  }
  throw new CaError("internal", "could not generate a password that passes the policy");
}

const pick = (random: Random, alphabet: string): string => alphabet[uniform(random, alphabet.length)]!;

/** A uniform integer in [0, n) for n ≤ 256, by rejection sampling one byte at a time. */
function uniform(random: Random, n: number): number {
  const limit = 256 - (256 % n);
  for (;;) {
    const b = random.bytes(1)[0];
    if (b === undefined) throw new CaError("internal", "Random returned no bytes");
    if (b < limit) return b % n;
  }
}
