import assert from "node:assert/strict";
import { AnomalyDetector, AnomalyMonitor, type AnomalyAlert } from "../../../ca/records/anomaly.js";
import { FixedClock } from "../../../ca/ports.js";
import type { AuditEntry, AuditEntryInput } from "../../../ca/types.js";
import { MemoryAuditStore, MemoryDatabase } from "../../support/memory-stores.js";

const DAY = new Date("2026-11-24T01:00:00Z"); // Tuesday 10:00 JST
const NIGHT = new Date("2026-11-24T16:00:00Z"); // Wednesday 01:00 JST
const MIN = 60_000;

let seq = 0;
const entry = (at: Date, e: Partial<AuditEntryInput>): AuditEntry => ({
  seq: ++seq,
  at,
  action: "x",
  actor: "system",
  subject: null,
  outcome: "success",
  detail: {},
  prevHash: "0".repeat(64),
  hash: "0".repeat(64),
  ...e,
});
const failedLogin = (at: Date, operatorId: string, terminal: string) =>
  entry(at, { action: "operator.login", actor: `operator:${operatorId}`, subject: `operator:${operatorId}`, outcome: "failure", detail: { terminal, reason: "wrong-password" } });
const kinds = (alerts: AnomalyAlert[]) => alerts.map((a) => `${a.kind} ${a.key}`);

describe("ca/anomaly", () => {
  it("alerts on repeated failed logins per operator, once per window", () => {
    const d = new AnomalyDetector({ thresholds: { failedLoginsPerOperator: 3, failedLoginsPerTerminal: 100 } });
    const out: AnomalyAlert[] = [];
    for (let i = 0; i < 6; i++) out.push(...d.observe(failedLogin(new Date(DAY.getTime() + i * MIN), "tanaka", `t${i}`)));
    assert.deepEqual(kinds(out), ["failed-logins-operator operator:tanaka"]);
    assert.equal(out[0]!.count, 3);
    // A window later it can fire again.
    const later = new Date(DAY.getTime() + 125 * MIN);
    for (let i = 0; i < 3; i++) out.push(...d.observe(failedLogin(new Date(later.getTime() + i), "tanaka", "t9")));
    assert.equal(out.length, 2);
  });

  it("alerts on failed logins per terminal across operator ids (password spraying), unknown ids included", () => {
    const d = new AnomalyDetector({ thresholds: { failedLoginsPerTerminal: 4, failedLoginsPerOperator: 100 } });
    const out: AnomalyAlert[] = [];
    for (let i = 0; i < 3; i++) out.push(...d.observe(failedLogin(new Date(DAY.getTime() + i * MIN), `op${i}`, "counter-07")));
    out.push(...d.observe(entry(new Date(DAY.getTime() + 5 * MIN), { action: "operator.login", actor: "unknown-operator", outcome: "failure", detail: { terminal: "counter-07", reason: "unknown-operator" } })));
    assert.deepEqual(kinds(out), ["failed-logins-terminal terminal:counter-07"]);
  });

  it("alerts on inquiries per operator above the threshold", () => {
    const d = new AnomalyDetector({ thresholds: { inquiriesPerOperator: 5 } });
    const out: AnomalyAlert[] = [];
    for (let i = 0; i < 5; i++) out.push(...d.observe(entry(new Date(DAY.getTime() + i * MIN), { action: "inquiry.certificates", actor: "operator:kansa" })));
    assert.deepEqual(kinds(out), ["inquiries-operator operator:kansa"]);
    // Spread over more than the window: no alert.
    const d2 = new AnomalyDetector({ thresholds: { inquiriesPerOperator: 5 } });
    const none = Array.from({ length: 10 }, (_, i) => d2.observe(entry(new Date(DAY.getTime() + i * 20 * MIN), { action: "inquiry.certificates", actor: "operator:kansa" }))).flat();
    assert.deepEqual(none, []);
  });

  it("alerts on issuance spikes per terminal", () => {
    const d = new AnomalyDetector({ thresholds: { issuancesPerTerminal: 10 } });
    const out: AnomalyAlert[] = [];
    for (let i = 0; i < 12; i++) {
      out.push(...d.observe(entry(new Date(DAY.getTime() + i * 1000), { action: "certificate.issued", actor: "operator:tanaka", detail: { terminalId: "counter-01" } })));
      out.push(...d.observe(entry(new Date(DAY.getTime() + i * 1000), { action: "certificate.issued", actor: "operator:sato", detail: { terminalId: `counter-${10 + i}` } })));
    }
    assert.deepEqual(kinds(out), ["issuance-spike-terminal terminal:counter-01"]);
  });

  it("alerts on logins and denied attempts outside operating hours", () => {
    const d = new AnomalyDetector();
    assert.deepEqual(d.observe(entry(DAY, { action: "operator.login", actor: "operator:tanaka", detail: { terminal: "counter-01" } })), []);
    assert.deepEqual(kinds(d.observe(entry(NIGHT, { action: "operator.login", actor: "operator:tanaka", detail: { terminal: "counter-01" } }))), ["outside-operating-hours terminal:counter-01"]);
    const denied = entry(DAY, { action: "request.denied", actor: "terminal:counter-02", outcome: "denied", detail: { reason: "outside operating hours", client: { role: "terminal", id: "counter-02" } } });
    assert.deepEqual(kinds(d.observe(denied)), ["outside-operating-hours terminal:counter-02"]);
  });

  it("monitor: follows the audit log, counts in the metrics sink and writes anomaly.detected", async () => {
    const db = new MemoryDatabase();
    const audit = new MemoryAuditStore(db);
    const clock = new FixedClock(DAY);
    const sunk: AnomalyAlert[] = [];
    await audit.append({ at: DAY, action: "before-start", actor: "system", subject: null, outcome: "success", detail: {} });
    const monitor = new AnomalyMonitor({
      log: audit,
      head: async () => db.state.head,
      detector: new AnomalyDetector({ thresholds: { failedLoginsPerOperator: 3, failedLoginsPerTerminal: 100 } }),
      sink: { alert: (a) => void sunk.push(a) },
      clock,
    });
    assert.deepEqual(await monitor.poll(), []);
    for (let i = 0; i < 3; i++) {
      await audit.append({ at: DAY, action: "operator.login", actor: "operator:tanaka", subject: "operator:tanaka", outcome: "failure", detail: { terminal: "counter-01" } });
    }
    const alerts = await monitor.poll();
    assert.deepEqual(kinds(alerts), ["failed-logins-operator operator:tanaka"]);
    assert.equal(sunk.length, 1);
    const last = (await audit.range(1, 100)).at(-1)!;
    assert.equal(last.action, "anomaly.detected");
    assert.equal(last.subject, "operator:tanaka");
    assert.equal(last.detail.kind, "failed-logins-operator");
    assert.deepEqual(await monitor.poll(), [], "its own entries raise nothing");
  });
});
