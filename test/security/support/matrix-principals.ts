import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { issueClientCredential } from "../../../cli/ceremony.js";
import { ClientRegister } from "../../../ca/operators/client-register.js";
import { pem } from "../../../ca/x509/pem.js";
import { operatorAuthOf } from "../../../cli/operator-commands.js";
import type { ClientCredentials, HttpAnswer } from "../../support/https-client.js";
import type { TestService } from "../../support/service-harness.js";
import { matrixRequest } from "./matrix-http.js";

/**
 * The principals of the security matrix (issue 12 §7): a client-certificate kind × a person (an
 * operator account of one role, an account holding two roles, or nobody).
 *
 * Kinds: the machine roles of docs/api.md §7 (holder-portal: docs/phone.md) (the OU of a service-CA client certificate), plus
 * `rogue-admin` — a certificate the service CA really issued with OU=admin that was never registered
 * (issue 12: "a service-CA certificate OU=admin, CN=never-registered-ws logged in (201)").
 *
 * Roles are bound to the kind of workstation (issue 12 §2): terminal-operator only on OU=terminal,
 * every other operator role only on OU=admin; an account holding both kinds of role uses on each kind
 * only the roles that fit it.
 */
export const kinds = ["terminal", "admin", "feed", "relying-party", "rogue-admin", "holder-portal"] as const;
export type Kind = (typeof kinds)[number];

/** An operator account: one demo account per role (var/demo/operators.json), and `dual` = terminal-operator + ca-operator. */
export const persons = ["terminal-operator", "ca-operator", "security-officer", "auditor", "ca-admin", "dual"] as const;
export type Person = (typeof persons)[number];

export interface Principal {
  readonly kind: Kind;
  readonly person: Person | null;
  /** `kind` or `kind+person`, as cells name it. */
  readonly key: string;
}

export const principals: readonly Principal[] = kinds.flatMap((kind) => [null, ...persons].map((person) => ({ kind, person, key: person ? `${kind}+${person}` : kind })));

/** The roles an account holds. */
export const rolesOf = (person: Person): readonly OperatorRole[] => (person === "dual" ? ["terminal-operator", "ca-operator"] : [person]);

/** Issue 12 §2: the one kind of workstation each operator role may be used on. */
export const homeKindOf = (role: OperatorRole): Kind => (role === "terminal-operator" ? "terminal" : "admin");

/** The roles of `person` that count on a client certificate of `kind` (none on an unregistered certificate). */
export const effectiveRoles = (person: Person | null, kind: Kind): readonly OperatorRole[] => (person ? rolesOf(person).filter((r) => homeKindOf(r) === kind) : []);

/** Credentials of the dual-role account the matrix creates. */
const DUAL_ID = "matrix-dual";

/** What `setUpPrincipals` made: TLS credentials per kind, a bearer token per principal with a person, login outcomes. */
export interface MatrixPrincipals {
  readonly clients: Readonly<Record<Kind | "none", ClientCredentials>>;
  readonly accounts: Readonly<Record<Person, { readonly operatorId: string; readonly password: string }>>;
  /** The token a principal presents: its own session when the login on its kind succeeded, else a session of the same account opened on the account's home kind (a valid token on the wrong certificate). */
  readonly tokens: ReadonlyMap<string, string>;
  /** Status of the login of each person on each kind that can log in at all (terminal, admin, rogue-admin). */
  readonly logins: ReadonlyArray<{ readonly key: string; readonly status: number; readonly detail: string }>;
  /** A token of `person` opened on its home kind (the one principals on other kinds present), also used for set-up work. */
  readonly homeToken: (person: Person) => string;
}

/** One HTTPS call with a client certificate and an optional bearer token and JSON body. */
export function callAs(
  baseUrl: string,
  creds: ClientCredentials,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
  return matrixRequest(`${baseUrl}${path}`, creds, method, headers, opts.body);
}

/**
 * Client certificates of every kind, the dual-role account, and one session per principal. Logins
 * that the target forbids (a role on the wrong kind, an unregistered certificate) are attempted once
 * each and their status kept for the login test; each account is logged in at most once off its home
 * kind, so no account reaches the lockout threshold (告示334号 第4-4(8): 3 failures).
 */
export async function setUpPrincipals(ts: TestService): Promise<MatrixPrincipals> {
  const demo = async (name: string): Promise<ClientCredentials> => ({
    ca: ts.demo.tlsCa,
    cert: await readFile(join(ts.config.demoDir, `${name}.pem`), "utf8"),
    key: await readFile(join(ts.config.demoDir, `${name}.key`), "utf8"),
  });
  // A certificate of the service CA with OU=admin that no register knows.
  const rogue = await issueClientCredential(ts.service, ts.service.serviceCa, { role: "admin", id: "never-registered-ws" });
  // A registered holder portal (docs/phone.md: OU=holder-portal, enrolled like a feed).
  const s = ts.service;
  const portal = await new ClientRegister({ store: s.stores.clientCertificates, sessions: s.stores.operatorSessions, audit: s.stores.audit, transactions: s.db, clock: s.clock, random: s.random, serviceCa: () => s.serviceCa }).enrol("cli", { kind: "holder-portal", clientId: "matrix-portal" });
  const clients: Record<Kind | "none", ClientCredentials> = {
    terminal: ts.tls("terminal"),
    admin: ts.tls("admin"),
    feed: await demo("feed"),
    "relying-party": await demo("relying-party"),
    "rogue-admin": { ca: ts.demo.tlsCa, cert: rogue.certPem, key: rogue.keyPem },
    "holder-portal": { ca: ts.demo.tlsCa, cert: pem(portal.certificate, "CERTIFICATE"), key: pem(portal.privateKeyPkcs8, "PRIVATE KEY") },
    none: ts.tls("none"),
  };

  // The account with both kinds of role is made the way the break-glass CLI does (`operator add --ready`).
  const dual = await operatorAuthOf(ts.service).addOperator("cli", { operatorId: DUAL_ID, roles: ["terminal-operator", "ca-operator"], displayName: "matrix dual", ready: true });
  if (!dual.oneTimePassword) throw new Error("no password generated for the dual-role account");
  const accounts = { ...ts.demo.operators, dual: { operatorId: DUAL_ID, password: dual.oneTimePassword } } as Record<Person, { operatorId: string; password: string }>;

  const login = async (kind: Kind, person: Person): Promise<HttpAnswer> => {
    let res = await callAs(ts.httpsUrl, clients[kind], "POST", "/v1/sessions", { body: accounts[person] });
    // Login rate limits (issue 12 §4) are not what the matrix tests: wait as told, once.
    const wait = Number(res.headers["retry-after"]);
    if (res.status === 429 && wait > 0 && wait <= 30) {
      await new Promise((r) => setTimeout(r, wait * 1000));
      res = await callAs(ts.httpsUrl, clients[kind], "POST", "/v1/sessions", { body: accounts[person] });
    }
    return res;
  };
  const tokenOf = (res: HttpAnswer): string | undefined => (res.status === 201 ? res.json<{ token: string }>().token : undefined);
  const home = (person: Person): Kind => homeKindOf(rolesOf(person).includes("ca-operator") ? "ca-operator" : rolesOf(person)[0]!);

  // A session of each account on its home kind, apart from the principals' own sessions (which the
  // matrix logs off at the end).
  const cross = new Map<Person, string>();
  for (const person of persons) {
    const res = await login(home(person), person);
    const token = tokenOf(res);
    if (!token) throw new Error(`login of ${person} on its home kind failed: ${res.status} ${res.body.toString("utf8")}`);
    cross.set(person, token);
  }

  const tokens = new Map<string, string>();
  const logins: Array<{ key: string; status: number; detail: string }> = [];
  for (const p of principals) {
    if (!p.person) continue;
    let token: string | undefined;
    if (p.kind === "terminal" || p.kind === "admin" || p.kind === "rogue-admin") {
      const res = await login(p.kind, p.person);
      logins.push({ key: p.key, status: res.status, detail: res.status === 201 ? "" : res.body.toString("utf8").slice(0, 200) });
      token = tokenOf(res);
    }
    tokens.set(p.key, token ?? cross.get(p.person)!);
  }
  return { clients, accounts, tokens, logins, homeToken: (person) => cross.get(person)! };
}
