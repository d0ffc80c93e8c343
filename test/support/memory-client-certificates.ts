import type { ClientCertificateRecord, ClientCertificateStore, NewClientCertificate, RegisteredClientKind } from "../../ca/operators/client-register.js";
import { CaError } from "../../ca/errors.js";
import type { LoginAttemptStore } from "../../ca/operators/login-throttle.js";

/**
 * In-memory doubles of the client-certificate register (ca/operators/client-register.ts) and of the login
 * attempt counters (ca/operators/login-throttle.ts), for unit tests. No transactions: each call is atomic.
 */
export class MemoryClientCertificateStore implements ClientCertificateStore {
  readonly rows = new Map<string, ClientCertificateRecord>();

  async register(r: NewClientCertificate): Promise<void> {
    const key = `${r.kind}|${r.clientId}`;
    if (this.rows.get(key)?.status === "active") throw new CaError("conflict", "this client certificate id is registered and active: revoke it first");
    for (const [k, o] of this.rows) {
      if (k !== key && (o.clientCertSerial === r.clientCertSerial || o.clientCertFingerprint === r.clientCertFingerprint)) throw new CaError("conflict", "client certificate already recorded");
    }
    this.rows.set(key, { ...r, status: "active", revokedAt: null });
  }

  async get(kind: RegisteredClientKind, clientId: string): Promise<ClientCertificateRecord | undefined> {
    return this.rows.get(`${kind}|${clientId}`);
  }

  async list(kind?: RegisteredClientKind): Promise<ClientCertificateRecord[]> {
    return [...this.rows.values()].filter((r) => kind === undefined || r.kind === kind).sort((a, b) => (a.kind + a.clientId).localeCompare(b.kind + b.clientId));
  }

  async revoke(kind: RegisteredClientKind, clientId: string, at: Date): Promise<boolean> {
    const r = this.rows.get(`${kind}|${clientId}`);
    if (r === undefined || r.status !== "active") return false;
    this.rows.set(`${kind}|${clientId}`, { ...r, status: "revoked", revokedAt: at });
    return true;
  }
}

export class MemoryLoginAttemptStore implements LoginAttemptStore {
  readonly counts = new Map<string, number>();

  async hit(keys: readonly string[], windowStart: Date): Promise<number[]> {
    return keys.map((k) => {
      const id = `${k}|${windowStart.getTime()}`;
      const n = (this.counts.get(id) ?? 0) + 1;
      this.counts.set(id, n);
      return n;
    });
  }

  async release(keys: readonly string[], windowStart: Date): Promise<void> {
    for (const k of keys) {
      const id = `${k}|${windowStart.getTime()}`;
      this.counts.set(id, Math.max(0, (this.counts.get(id) ?? 0) - 1));
    }
  }

  async purge(before: Date): Promise<number> {
    let n = 0;
    for (const id of [...this.counts.keys()]) {
      if (Number(id.slice(id.lastIndexOf("|") + 1)) < before.getTime()) {
        this.counts.delete(id);
        n++;
      }
    }
    return n;
  }
}
