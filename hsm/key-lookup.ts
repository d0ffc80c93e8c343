import * as graphene from "graphene-pk11";
import pkcs11js from "pkcs11js";
import { CaError } from "../ca/errors.js";
import { ckrName, Pkcs11StateError } from "./pkcs11-error.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "./pkcs11-uri.js";
import { curveOfParams, ecSpki, rsaSpki } from "./public-key-info.js";

/** Which key pair a URI names inside our token: CKA_LABEL and/or CKA_ID. */
export interface KeyRef {
  readonly label?: string;
  readonly id?: Uint8Array;
  /** Stable string for caching handles per session. */
  readonly cacheKey: string;
  /** The URI without any `pin-value`, for messages (docs/design.md invariant 5). */
  readonly display: string;
}

/**
 * Resolves a key URI against the token this HSM serves. The URI must name the object by
 * `object` (CKA_LABEL) and/or `id` (CKA_ID); `type` may be `private` or `public` (we find both halves
 * of the pair by the same label/id); a `token` other than ours is "not-found".
 */
export function keyRefFromUri(uri: string, tokenLabel: string): KeyRef {
  const u = parsePkcs11Uri(uri);
  if (u.token !== undefined && u.token !== tokenLabel) {
    throw new CaError("not-found", `key URI names token "${u.token}", but this HSM serves "${tokenLabel}"`);
  }
  if (u.type !== undefined && u.type !== "private" && u.type !== "public") {
    throw new CaError("invalid-input", `key URI type must be private or public, not ${u.type}`, { field: "keyUri" });
  }
  if (u.object === undefined && u.id === undefined) {
    throw new CaError("invalid-input", "key URI must name the key by object= or id=", { field: "keyUri" });
  }
  return {
    ...(u.object !== undefined ? { label: u.object } : {}),
    ...(u.id !== undefined ? { id: u.id } : {}),
    cacheKey: `${u.object ?? ""}\u0000${u.id ? Buffer.from(u.id).toString("hex") : ""}`,
    display: formatPkcs11Uri({ ...u, pinValue: undefined }),
  };
}

function describe(ref: KeyRef): string {
  return ref.label !== undefined ? `"${ref.label}"` : `id ${Buffer.from(ref.id ?? []).toString("hex")}`;
}

/**
 * Throws Pkcs11StateError("login") when the session is not logged in. A logged-out session sees no
 * private objects (PKCS#11 v2.40 §4.4), so "not found" there would be a lie: after a C_Logout
 * elsewhere in the process, a search must fail as a login problem and be retried after re-login.
 */
export function assertLoggedIn(session: graphene.Session): void {
  // CK_STATE: CKS_RO_USER_FUNCTIONS (1), CKS_RW_USER_FUNCTIONS (3).
  const { state } = session.lib.C_GetSessionInfo(session.handle);
  if (state !== 1 && state !== 3) throw new Pkcs11StateError("login", "HSM session is not logged in");
}

/**
 * Throws Pkcs11StateError("device") when the token no longer answers C_GetTokenInfo. Issue 14 item 3b:
 * with its token directory gone, SoftHSM keeps the session "logged in" and answers every search with
 * nothing, but fails C_GetTokenInfo (CKR_GENERAL_ERROR): "not found" there is a lie too, and the
 * recovery (hsm/token-sessions.ts) re-initializes the library until the token is back.
 */
export function assertTokenPresent(session: graphene.Session): void {
  try {
    session.lib.C_GetTokenInfo(session.slot.handle);
  } catch (e) {
    throw new Pkcs11StateError("device", `HSM token not reachable (${ckrName(e) ?? "no token info"})`, { cause: e });
  }
}

/**
 * A key is "not found" only on a working, logged-in token: else the failure is the token's or the
 * session's (503, retried after recovery), never a 404 (issue 14 item 3b).
 */
function assertAbsenceIsReal(session: graphene.Session): void {
  assertLoggedIn(session);
  assertTokenPresent(session);
}

function findOne(session: graphene.Session, ref: KeyRef, cls: graphene.ObjectClass): graphene.SessionObject | undefined {
  const template: graphene.ITemplate = { class: cls };
  if (ref.label !== undefined) template.label = ref.label;
  if (ref.id !== undefined) template.id = Buffer.from(ref.id);
  const found = session.find(template);
  if (found.length > 1) {
    throw new CaError("conflict", `key ${describe(ref)} is ambiguous: ${found.length} objects match`);
  }
  if (found.length === 0) assertAbsenceIsReal(session);
  return found.length === 1 ? found.items(0) : undefined;
}

/** The private key object, or undefined. Requires a logged-in session (CKA_PRIVATE objects). */
export function findPrivateKey(session: graphene.Session, ref: KeyRef): graphene.PrivateKey | undefined {
  return findOne(session, ref, graphene.ObjectClass.PRIVATE_KEY)?.toType<graphene.PrivateKey>();
}

/** The private key object; CaError("not-found") when absent. */
export function requirePrivateKey(session: graphene.Session, ref: KeyRef): graphene.PrivateKey {
  const key = findPrivateKey(session, ref);
  if (!key) throw new CaError("not-found", `no private key ${describe(ref)} in the token`);
  return key;
}

/**
 * SPKI DER of the key pair: from the public key object (RSA modulus/exponent or EC params/point);
 * for an RSA pair without a public object, from the private key's public attributes.
 * CaError("not-found") when neither exists.
 */
export function readSpki(session: graphene.Session, ref: KeyRef): Uint8Array {
  const pub = findOne(session, ref, graphene.ObjectClass.PUBLIC_KEY);
  const source = pub ?? findOne(session, ref, graphene.ObjectClass.PRIVATE_KEY);
  if (!source) throw new CaError("not-found", `no key ${describe(ref)} in the token`);
  const keyType = source.getAttribute({ keyType: null }).keyType;
  if (keyType === pkcs11js.CKK_RSA) {
    const a = source.getAttribute({ modulus: null, publicExponent: null });
    if (!a.modulus || !a.publicExponent) throw new CaError("internal", `key ${describe(ref)} has no RSA public parts`);
    return rsaSpki(a.modulus, a.publicExponent);
  }
  if (keyType === pkcs11js.CKK_EC) {
    if (!pub) throw new CaError("not-found", `no public key object ${describe(ref)} in the token`);
    const a = pub.getAttribute({ paramsEC: null, pointEC: null });
    // graphene returns CKA_EC_PARAMS under the alias paramsECDSA (docs/traps.md §2).
    const params = a.paramsEC ?? a.paramsECDSA;
    const curve = params ? curveOfParams(params) : undefined;
    if (!curve || !a.pointEC) throw new CaError("internal", `key ${describe(ref)} is on an unsupported curve`);
    return ecSpki(curve, a.pointEC);
  }
  throw new CaError("internal", `key ${describe(ref)} has an unsupported key type ${String(keyType)}`);
}
