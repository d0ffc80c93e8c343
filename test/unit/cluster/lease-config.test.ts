import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../api/config.js";
import { Metrics } from "../../../api/metrics.js";

/** The job lease settings (api/config.ts, docs/cluster.md) and their metrics (api/metrics.ts). */
describe("cluster: job lease configuration and metrics", () => {
  const base = { CA_HSM_PIN: "1234" };

  it("defaults to a 10 s TTL renewed every 2.5 s (a dead holder's jobs move within 12.5 s)", () => {
    assert.deepEqual(loadConfig(base).jobLeases, { ttlMs: 10_000, renewMs: 2_500 });
  });

  it("CA_JOB_LEASE_TTL_MS and CA_JOB_LEASE_RENEW_MS override them", () => {
    assert.deepEqual(loadConfig({ ...base, CA_JOB_LEASE_TTL_MS: "3000", CA_JOB_LEASE_RENEW_MS: "500" }).jobLeases, { ttlMs: 3000, renewMs: 500 });
  });

  it("refuses a renewal period not shorter than the TTL, and a TTL under a second, naming the field", () => {
    assert.throws(() => loadConfig({ ...base, CA_JOB_LEASE_TTL_MS: "3000", CA_JOB_LEASE_RENEW_MS: "3000" }), (e: unknown) => e instanceof ConfigError && /jobLeases\.renewMs/.test(e.message));
    assert.throws(() => loadConfig({ ...base, CA_JOB_LEASE_TTL_MS: "500" }), (e: unknown) => e instanceof ConfigError && /jobLeases\.ttlMs/.test(e.message));
    assert.throws(() => loadConfig({ ...base, CA_JOB_LEASE_TTL_MS: "ten" }), (e: unknown) => e instanceof ConfigError && /CA_JOB_LEASE_TTL_MS: must be an integer/.test(e.message));
  });

  it("exposes ca_job_lease_held{job} and ca_job_lease_changes_total{job,change}", async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.jobLeases.setHeld("anomaly-monitor", true);
    m.jobLeases.setHeld("crl-scheduler", false);
    m.jobLeases.countChange("anomaly-monitor", "acquired");
    m.jobLeases.countChange("anomaly-monitor", "lost");
    m.jobLeases.countChange("anomaly-monitor", "acquired");
    const text = await m.exposition();
    assert.match(text, /^ca_job_lease_held\{job="anomaly-monitor"\} 1$/m);
    assert.match(text, /^ca_job_lease_held\{job="crl-scheduler"\} 0$/m);
    assert.match(text, /^ca_job_lease_changes_total\{job="anomaly-monitor",change="acquired"\} 2$/m);
    assert.match(text, /^ca_job_lease_changes_total\{job="anomaly-monitor",change="lost"\} 1$/m);
  });
});
