import { randomBytes } from "node:crypto";
import type { ClientCredentials, HttpAnswer } from "../../support/https-client.js";
import type { TestService } from "../../support/service-harness.js";
import { callAs, type MatrixPrincipals } from "./matrix-principals.js";
import { application, cardCsrs, newResident, OTHER_MUNICIPALITY, OWN_MUNICIPALITY, type MatrixObject, type MatrixResident } from "./matrix-residents.js";

/**
 * The objects of the security matrix: certificates of residents of the demo terminal's municipality
 * (131041) and of another one (271004), issued through the API by a terminal of each municipality.
 * Destructive cells (revocation, hold) each get a fresh certificate; read-only cells share one.
 */

/** The fresh certificates the destructive cells use up, by name. */
export const freshOwn = ["terminal-revokes", "terminal-holds", "dual-at-counter-cACompromise", "ca-operator-revokes", "bulk"] as const;
export const freshOther = ["ca-operator-revokes", "ca-operator-holds", "bulk"] as const;

export interface MatrixWorld {
  /** The second terminal, enrolled for 271004, and a terminal-operator session on it. */
  readonly otherTerminal: { readonly creds: ClientCredentials; readonly token: string };
  /** Shared read-only objects (signing + user-auth certificates). */
  readonly own: MatrixObject;
  readonly other: MatrixObject;
  readonly fresh: { readonly own: Readonly<Record<(typeof freshOwn)[number], MatrixObject>>; readonly other: Readonly<Record<(typeof freshOther)[number], MatrixObject>> };
  /** CSRs never used yet, for the issuance cells. */
  readonly spareCsrs: string[];
  /** A well-formed serial the CA never issued. */
  readonly unknownSerial: string;
  /** The Idempotency-Key and body the 271004 terminal issued `other` with (for a replay from another terminal). */
  readonly otherIssuance: { readonly key: string; readonly body: unknown };
  /** POST /v1/issuances with a fresh Idempotency-Key, or the one given. */
  issue(creds: ClientCredentials, token: string, body: unknown, key?: string): Promise<HttpAnswer>;
}

/** Enrols the 271004 terminal (as the CA operator) and issues every object of the matrix. */
export async function buildWorld(ts: TestService, P: MatrixPrincipals): Promise<MatrixWorld> {
  const csrs = cardCsrs(4 + freshOwn.length + freshOther.length + 3);
  const enrolled = await callAs(ts.httpsUrl, P.clients.admin, "POST", "/v1/admin/terminals", {
    token: P.homeToken("ca-operator"),
    body: { terminalId: `matrix-osaka-${process.pid}`, municipalityCode: OTHER_MUNICIPALITY, operatingHours: { open: "00:00", close: "24:00", weekdays: [1, 2, 3, 4, 5, 6, 7], openOnHolidays: true } },
  });
  if (enrolled.status !== 201) throw new Error(`enrolment of the ${OTHER_MUNICIPALITY} terminal failed: ${enrolled.status} ${enrolled.body.toString("utf8")}`);
  const t = enrolled.json<{ certificate: string; privateKey: string }>();
  const otherCreds: ClientCredentials = { ca: ts.demo.tlsCa, cert: t.certificate, key: t.privateKey };
  const login = await callAs(ts.httpsUrl, otherCreds, "POST", "/v1/sessions", { body: P.accounts["terminal-operator"] });
  if (login.status !== 201) throw new Error(`login on the ${OTHER_MUNICIPALITY} terminal failed: ${login.status} ${login.body.toString("utf8")}`);
  const otherTerminal = { creds: otherCreds, token: login.json<{ token: string }>().token };

  let idem = 0;
  let last = { key: "", body: undefined as unknown };
  const issue = (creds: ClientCredentials, token: string, body: unknown, key = `matrix-${process.pid}-${++idem}`): Promise<HttpAnswer> => {
    last = { key, body };
    return callAs(ts.httpsUrl, creds, "POST", "/v1/issuances", { token, body, headers: { "Idempotency-Key": key } });
  };

  const pool = await csrs;
  const take = (): string => {
    const csr = pool.shift();
    if (!csr) throw new Error("the matrix ran out of CSRs");
    return csr;
  };
  const issueFor = async (resident: MatrixResident, kinds: ReadonlyArray<"sign" | "auth">): Promise<MatrixObject> => {
    const [creds, token] = resident.municipalityCode === OWN_MUNICIPALITY ? [P.clients.terminal, P.homeToken("terminal-operator")] : [otherTerminal.creds, otherTerminal.token];
    const res = await issue(creds, token, application(resident, kinds.map((kind) => ({ kind, csr: take() }))));
    if (res.status !== 201) throw new Error(`issuance for a ${resident.municipalityCode} resident failed: ${res.status} ${res.body.toString("utf8")}`);
    const certs = res.json<{ certificates: Array<{ kind: "sign" | "auth"; serialNumber: string }> }>().certificates;
    const serials = Object.fromEntries(certs.map((c) => [c.kind, c.serialNumber])) as Partial<Record<"sign" | "auth", string>>;
    return { resident, serials, serial: serials.sign ?? serials.auth! };
  };

  const own = await issueFor(newResident(OWN_MUNICIPALITY), ["auth", "sign"]);
  const other = await issueFor(newResident(OTHER_MUNICIPALITY), ["auth", "sign"]);
  const otherIssuance = last;
  const freshOf = async <N extends string>(names: readonly N[], municipality: string): Promise<Record<N, MatrixObject>> => {
    const out = {} as Record<N, MatrixObject>;
    for (const name of names) out[name] = await issueFor(newResident(municipality), ["auth"]);
    return out;
  };
  const fresh = { own: await freshOf(freshOwn, OWN_MUNICIPALITY), other: await freshOf(freshOther, OTHER_MUNICIPALITY) };
  const unknownSerial = `41${randomBytes(15).toString("hex")}`;
  return { otherTerminal, own, other, fresh, spareCsrs: pool, unknownSerial, otherIssuance, issue };
}
