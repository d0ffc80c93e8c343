/**
 * A counter terminal as the issuance benchmark drives it: one keep-alive HTTPS agent with the demo
 * terminal's client certificate (docs/api.md §1), one operator session (docs/api.md §4 `POST /v1/sessions`),
 * and `POST /v1/issuances` requests for distinct residents, each with two fresh card keys.
 */
import https from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface TerminalCredentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The demo terminal's credentials and the demo terminal operator, as `init` wrote them under `<varDir>/demo`. */
export function demoTerminal(varDir: string): { tls: TerminalCredentials; operatorId: string; password: string } {
  const demo = join(varDir, "demo");
  const operators = JSON.parse(readFileSync(join(demo, "operators.json"), "utf8")) as Record<string, { operatorId: string; password: string }>;
  const op = operators["terminal-operator"];
  if (!op) throw new Error(`no terminal-operator in ${join(demo, "operators.json")}`);
  return {
    tls: { ca: readFileSync(join(demo, "tls-ca.pem"), "utf8"), cert: readFileSync(join(demo, "terminal.pem"), "utf8"), key: readFileSync(join(demo, "terminal.key"), "utf8") },
    operatorId: op.operatorId,
    password: op.password,
  };
}

export interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

export class TerminalClient {
  private readonly agent: https.Agent;
  private token: string | undefined;

  /** @param maxSockets connections kept open to the service (requests beyond it wait in the agent) */
  constructor(
    private readonly baseUrl: string,
    tls: TerminalCredentials,
    maxSockets: number,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ca: tls.ca, cert: tls.cert, key: tls.key, servername: "localhost" });
  }

  /** Opens the operator session whose bearer token every later request carries. */
  async login(operatorId: string, password: string): Promise<void> {
    const a = await this.send("POST", "/v1/sessions", JSON.stringify({ operatorId, password }));
    if (a.status !== 201) throw new Error(`login failed: ${a.status} ${a.body.toString("utf8").slice(0, 300)}`);
    const body = JSON.parse(a.body.toString("utf8")) as { token: string; mustChangePassword: boolean };
    if (body.mustChangePassword) throw new Error("the demo terminal operator must change its password first");
    this.token = body.token;
  }

  /** One `POST /v1/issuances`. */
  issue(body: string, idempotencyKey: string): Promise<Answer> {
    return this.send("POST", "/v1/issuances", body, { "Idempotency-Key": idempotencyKey });
  }

  send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            ...(body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } : {}),
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Today's date in JST (the CA refuses an application date in the future, judged in JST). */
export function jstToday(now = new Date()): string {
  return new Date(now.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
}

// 17 characters: the docs/api.md §4 sample gives 18 flags for it, which the CA rightly refuses.
const ADDRESS = "東京都新宿区歌舞伎町一丁目４番１号";

/**
 * The body of the i-th issuance: resident code 1000000000+i (11 digits, distinct per i), the docs/api.md
 * §4 sample resident otherwise, user-authentication and signing CSRs `auth` and `sign`.
 */
export function issuanceBody(i: number, applicationDate: string, auth: string, sign: string): string {
  return JSON.stringify({
    municipalityCode: "131041",
    applicationDate,
    residentCode: String(10_000_000_000 + i),
    resident: {
      name: "山田　太郎",
      nameSubstituteFlags: "00000",
      alias: null,
      dateOfBirth: "1980-02-17",
      gender: 1,
      address: ADDRESS,
      addressSubstituteFlags: "0".repeat([...ADDRESS].length),
      cardExpiry: "2035-02-17",
      residencePeriodEnd: null,
      underGuardianship: false,
    },
    requests: [
      { kind: "auth", csr: auth },
      { kind: "sign", csr: sign },
    ],
  });
}
