/**
 * Steady load on the CA nodes of the cluster test (test/cluster/), from outside, the way terminals,
 * relying parties and the resident feed would load a national deployment:
 * - issuance workers: `POST /v1/issuances` with an Idempotency-Key per application (docs/api.md §4);
 *   an application without an answer is sent again, unchanged, to the next node;
 * - for each issued resident one ADDRESS_CHANGED event published to JetStream (`Nats-Msg-Id` = eventId,
 *   docs/api.md §5), which revokes the signing certificate (docs/events.md);
 * - a few revocations by the terminal operator (docs/api.md §4, at most 10 an hour);
 * - OCSP GETs for issued certificates by the registered relying party (docs/api.md §3);
 * - a CRL "issue now" every few seconds by the CA operator (docs/api.md §7), on whichever node.
 * Everything sent and every answer is kept for the integrity checks (test/support/cluster-checks.ts).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, headers as natsHeaders, type NatsConnection } from "nats";
import { issuanceBody, jstToday } from "../../bench/terminal-client.js";
import { buildRequest, certIdUnder } from "../unit/ocsp/fixtures.js";
import { readResponse } from "../unit/ocsp/read-response.js";
import { attempt, AttemptCounts, NodeRing, sendWithRetries, sleep, type TlsCredentials } from "./cluster-http.js";

export interface IssuedCertificate {
  readonly kind: "auth" | "sign";
  readonly serial: string;
}

/** One application, as sent and as first answered 201. */
export interface Application {
  readonly index: number;
  readonly key: string;
  readonly body: string;
  readonly residentCode: string;
  /** Some attempt got no answer or a 503 before the 201. */
  unanswered: boolean;
  certificates: IssuedCertificate[] | undefined;
  /** The final non-201 answer, if it never got a 201. */
  refused?: number;
}

export interface LoadOptions {
  readonly ring: NodeRing;
  /** The generated state of `init` (demo credentials). */
  readonly varDir: string;
  /** NATS_URL of the nodes (comma-separated). */
  readonly natsServers: string;
  /** PEM CSRs, two per application. */
  readonly csrs: readonly string[];
  readonly issuanceWorkers?: number;
  readonly revocations?: number;
  /** Pause of each issuance worker between applications (steady load, not a benchmark; default 300 ms). */
  readonly pauseMs?: number;
}

export class ClusterLoad {
  readonly issuance = new AttemptCounts();
  readonly ocsp = new AttemptCounts();
  readonly revocation = new AttemptCounts();
  readonly applications: Application[] = [];
  /** eventId → resident code, for each event JetStream acknowledged. */
  readonly eventsSent = new Map<string, string>();
  /** Publishes that JetStream did not acknowledge (sent again under the same Nats-Msg-Id). */
  eventPublishRetries = 0;
  /** Serials revoked by the terminal operator (answered 200, or 409 on a retry of an unanswered one). */
  readonly revokedByOperator: string[] = [];
  /** OCSP responseStatus of the 200 answers (RFC 6960 §4.2.1: 0 successful, 3 tryLater, 6 unauthorized …). */
  readonly ocspResponseStatuses = new Map<number, number>();
  readonly crlRuns = new AttemptCounts();
  /** The last full CRL number each run answered, per partition of auth-g1; and any that did not grow. */
  readonly crlNumbersAnswered = new Map<number, number>();
  readonly crlNumberRegressions: string[] = [];
  /** The user-authentication CA certificate (DER), for OCSP requests. */
  authCaDer = new Uint8Array();
  private stopping = false;
  private readonly tasks: Promise<void>[] = [];
  private token = "";
  private nc: NatsConnection | undefined;
  private nextIndex = 0;
  private readonly eventQueue: Array<{ eventId: string; residentCode: string; body: Uint8Array }> = [];
  private readonly tls: TlsCredentials;
  private readonly apiKey: string;

  constructor(private readonly o: LoadOptions) {
    const demo = join(o.varDir, "demo");
    this.tls = { ca: readFileSync(join(demo, "tls-ca.pem"), "utf8"), cert: readFileSync(join(demo, "terminal.pem"), "utf8"), key: readFileSync(join(demo, "terminal.key"), "utf8") };
    this.apiKey = (JSON.parse(readFileSync(join(demo, "relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
  }

  /** Logs the terminal operator in (the session is in the database: valid on every node) and starts the workers. */
  async start(): Promise<void> {
    const operators = JSON.parse(readFileSync(join(this.o.varDir, "demo/operators.json"), "utf8")) as Record<string, { operatorId: string; password: string }>;
    const login = await sendWithRetries(this.o.ring, "/v1/sessions", { method: "POST", body: JSON.stringify(operators["terminal-operator"]), tls: this.tls }, new AttemptCounts());
    if (login.answer?.status !== 201) throw new Error(`terminal operator login: ${login.answer?.status ?? "no answer"}`);
    this.token = (JSON.parse(login.answer.body.toString("utf8")) as { token: string }).token;
    this.nc = await connect({ servers: this.o.natsServers.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const authCa = await sendWithRetries(this.o.ring, "/ca/auth-g1.crt", { method: "GET" }, new AttemptCounts());
    if (authCa.answer?.status !== 200) throw new Error("GET /ca/auth-g1.crt failed");
    this.authCaDer = new Uint8Array(authCa.answer.body);
    const admin = { ca: this.tls.ca, cert: readFileSync(join(this.o.varDir, "demo/admin.pem"), "utf8"), key: readFileSync(join(this.o.varDir, "demo/admin.key"), "utf8") };
    const adminLogin = await sendWithRetries(this.o.ring, "/v1/sessions", { method: "POST", body: JSON.stringify(operators["ca-operator"]), tls: admin }, new AttemptCounts());
    if (adminLogin.answer?.status !== 201) throw new Error(`CA operator login: ${adminLogin.answer?.status ?? "no answer"}`);
    const adminToken = (JSON.parse(adminLogin.answer.body.toString("utf8")) as { token: string }).token;
    for (let w = 0; w < (this.o.issuanceWorkers ?? 3); w++) this.tasks.push(this.issuanceWorker());
    this.tasks.push(this.publisher(), this.ocspWorker(this.authCaDer), this.revoker(this.o.revocations ?? 6), this.crlRunner(admin, adminToken));
  }

  /** Stops every worker after its request in progress; events queued are still published. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.tasks);
    await this.nc?.drain();
  }

  /** Sends an application again, unchanged (the idempotent retry the checks make). */
  resend(app: Application, counts: AttemptCounts): ReturnType<typeof sendWithRetries> {
    return sendWithRetries(this.o.ring, "/v1/issuances", { method: "POST", body: app.body, headers: this.issuanceHeaders(app.key), tls: this.tls }, counts);
  }

  /** GET /v1/certificates/{serial} as the terminal operator. */
  async certificate(serial: string): Promise<{ status: string; revocationReason: string | null } | undefined> {
    const r = await sendWithRetries(this.o.ring, `/v1/certificates/${serial}`, { method: "GET", headers: { authorization: `Bearer ${this.token}` }, tls: this.tls }, new AttemptCounts());
    return r.answer?.status === 200 ? (JSON.parse(r.answer.body.toString("utf8")) as { status: string; revocationReason: string | null }) : undefined;
  }

  private issuanceHeaders(key: string): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, "idempotency-key": key };
  }

  private async issuanceWorker(): Promise<void> {
    const runId = randomBytes(4).toString("hex");
    while (!this.stopping) {
      const index = this.nextIndex++;
      if (2 * index + 1 >= this.o.csrs.length) return;
      const body = issuanceBody(index, jstToday(), this.o.csrs[2 * index]!, this.o.csrs[2 * index + 1]!);
      const app: Application = { index, key: `cluster-${runId}-${index}`, body, residentCode: String(10_000_000_000 + index), unanswered: false, certificates: undefined };
      this.applications.push(app);
      // Until answered, whatever happens meanwhile (a node killed, PostgreSQL restarting).
      const r = await sendWithRetries(this.o.ring, "/v1/issuances", { method: "POST", body, headers: this.issuanceHeaders(app.key), tls: this.tls, deadlineMs: 120_000 }, this.issuance);
      app.unanswered = r.unanswered || r.attempts > 1;
      if (r.answer?.status === 201) {
        app.certificates = certificatesOf(r.answer.body);
        this.eventQueue.push(addressChanged(app.residentCode, `${runId}-${index}`));
      } else app.refused = r.answer?.status ?? 0;
      await sleep(this.o.pauseMs ?? 300);
    }
  }

  /** Publishes queued events; one that JetStream did not acknowledge goes again with the same Nats-Msg-Id. */
  private async publisher(): Promise<void> {
    const js = this.nc!.jetstream({ timeout: 3000 });
    while (!this.stopping || this.eventQueue.length > 0) {
      const next = this.eventQueue[0];
      if (!next) {
        await sleep(50);
        continue;
      }
      const h = natsHeaders();
      h.set("Nats-Msg-Id", next.eventId);
      try {
        await js.publish("resident.events.131041", next.body, { msgID: next.eventId, headers: h });
        this.eventsSent.set(next.eventId, next.residentCode);
        this.eventQueue.shift();
      } catch {
        this.eventPublishRetries++;
        await sleep(250);
      }
    }
  }

  private async ocspWorker(caDer: Uint8Array): Promise<void> {
    let i = 0;
    while (!this.stopping) {
      const issued = this.applications.filter((a) => a.certificates);
      const app = issued[i++ % Math.max(1, issued.length)];
      const serial = app?.certificates?.find((c) => c.kind === "auth")?.serial;
      if (serial) {
        const der = Buffer.from(buildRequest([certIdUnder(caDer, serial)])).toString("base64");
        const a = await attempt(`${this.o.ring.pick(false)}/ocsp/${encodeURIComponent(der)}`, { method: "GET", headers: { authorization: `Bearer ${this.apiKey}` } });
        this.ocsp.count(a);
        if (a !== "timeout" && a?.status === 200) {
          const status = readResponse(new Uint8Array(a.body)).status;
          this.ocspResponseStatuses.set(status, (this.ocspResponseStatuses.get(status) ?? 0) + 1);
        }
      }
      await sleep(50);
    }
  }

  /** Revokes the user-authentication certificate of a few issued residents, spread over the run. */
  private async revoker(count: number): Promise<void> {
    let done = 0;
    while (!this.stopping && done < count) {
      await sleep(4000);
      const authOf = (a: Application): string | undefined => a.certificates?.find((c) => c.kind === "auth")?.serial;
      const serial = this.applications
        .map(authOf)
        .reverse()
        .find((s) => s !== undefined && !this.revokedByOperator.includes(s));
      if (!serial) continue;
      const r = await sendWithRetries(
        this.o.ring,
        `/v1/certificates/${serial}/revocation`,
        { method: "POST", body: JSON.stringify({ reason: "unspecified" }), headers: { authorization: `Bearer ${this.token}` }, tls: this.tls },
        this.revocation,
      );
      // A 409 after an unanswered attempt: that attempt revoked it.
      if (r.answer?.status === 200 || (r.answer?.status === 409 && r.unanswered)) this.revokedByOperator.push(serial);
      done++;
    }
  }

  /**
   * `POST /v1/admin/crl/auth-g1/run` every 3 s (a full and a delta CRL per partition: 32 signatures, which
   * may wait for the partition leases of a scheduled run on another node: 60 s before it counts as hung).
   */
  private async crlRunner(tls: TlsCredentials, token: string): Promise<void> {
    while (!this.stopping) {
      await sleep(3000);
      const r = await sendWithRetries(this.o.ring, "/v1/admin/crl/auth-g1/run", { method: "POST", headers: { authorization: `Bearer ${token}` }, tls, timeoutMs: 60_000, deadlineMs: 60_000 }, this.crlRuns);
      if (r.answer?.status !== 200) continue;
      const body = JSON.parse(r.answer.body.toString("utf8")) as { partitions: Array<{ partition: number; fullCrlNumber?: number }> };
      for (const p of body.partitions) {
        const last = this.crlNumbersAnswered.get(p.partition);
        if (p.fullCrlNumber === undefined) continue;
        if (last !== undefined && p.fullCrlNumber <= last) this.crlNumberRegressions.push(`auth-g1/${p.partition}: ${last} then ${p.fullCrlNumber}`);
        this.crlNumbersAnswered.set(p.partition, p.fullCrlNumber);
      }
    }
  }

  /** The OCSP certificate status of a user-authentication serial as one node answers it (GET, registered relying party). */
  async ocspStatus(httpUrl: string, serial: string): Promise<string> {
    const der = Buffer.from(buildRequest([certIdUnder(this.authCaDer, serial)])).toString("base64");
    const a = await attempt(`${httpUrl}/ocsp/${encodeURIComponent(der)}`, { method: "GET", headers: { authorization: `Bearer ${this.apiKey}` } });
    if (a === "timeout" || a?.status !== 200) return `HTTP ${a === "timeout" || !a ? "no answer" : a.status}`;
    const r = readResponse(new Uint8Array(a.body));
    return r.status === 0 ? (r.responses[0]?.status ?? "none") : `responseStatus ${r.status}`;
  }
}

function certificatesOf(body: Buffer): IssuedCertificate[] {
  const parsed = JSON.parse(body.toString("utf8")) as { certificates: Array<{ kind: "auth" | "sign"; serialNumber: string }> };
  return parsed.certificates.map((c) => ({ kind: c.kind, serial: c.serialNumber }));
}

// Same length as the issued address (docs/api.md §5: flags match the text): a move within the municipality.
const NEW_ADDRESS = "東京都新宿区歌舞伎町一丁目４番２号";

function addressChanged(residentCode: string, id: string): { eventId: string; residentCode: string; body: Uint8Array } {
  const eventId = `mun-131041-cluster-${id}`;
  const event = {
    eventId,
    residentCode,
    type: "ADDRESS_CHANGED",
    effectiveDate: jstToday(),
    recordedAt: new Date().toISOString(),
    changes: { address: NEW_ADDRESS, addressSubstituteFlags: "0".repeat([...NEW_ADDRESS].length) },
  };
  return { eventId, residentCode, body: new TextEncoder().encode(JSON.stringify(event)) };
}
