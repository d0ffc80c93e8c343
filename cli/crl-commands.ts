import type { Config } from "../api/config.js";
import { checkCaKeys, runReportBody, type Service } from "../api/main.js";
import { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import { CaError } from "../ca/errors.js";
import { parseCaId, type CaId } from "../ca/types.js";
import type { CoverageReport } from "../crl/coverage-check.js";
import type { CrlMetrics } from "../crl/crl-metrics.js";
import { createCrlService, type CrlService } from "../crl/crl-service.js";
import { parseCrlSettings, type CrlSettings } from "../crl/crl-settings.js";
import { KnexCrlStore } from "../db/crl-store.js";

/** docs/api.md §8: `npm run cli -- crl run [caId]` and `crl check [caId]`. */
export const crlUsage = "crl run [caId] | crl check [caId]";

/** What the commands use: the opened Service, or (tests) a clock, the audit store and a wired CRL part. */
export type CrlCliService = Service | (Pick<Service, "clock"> & { readonly stores: Pick<Service["stores"], "audit">; readonly crl: CrlService });

function crlOf(service: CrlCliService): Promise<CrlService> {
  const built = (service as { crl?: CrlService }).crl;
  return built ? Promise.resolve(built) : crlServiceOf(service as Service);
}

/**
 * The CRL part wired on an opened Service: the CA keys checked against their certificates
 * (api/main.ts checkCaKeys), the knex CRL store, the configured (or default) CRL settings.
 */
export async function crlServiceOf(service: Service): Promise<CrlService> {
  const settings = (service.config as Config & { crl?: CrlSettings }).crl ?? parseCrlSettings();
  const metrics = (service.metrics as { crl?: CrlMetrics }).crl;
  return createCrlService({
    store: new KnexCrlStore(service.db),
    outbox: service.stores.outbox,
    transactions: service.db,
    generations: await service.stores.caGenerations.list(),
    signers: await checkCaKeys(service),
    crlBaseUrl: service.config.publicBaseUrl,
    clock: service.clock,
    settings,
    logger: service.logger,
    ...(metrics ? { metrics } : {}),
    ...(service.config.revocationInfo ? { afterExpiry: new StatusAfterExpiry(service.config.revocationInfo) } : {}),
  });
}

function caIdArg(args: readonly string[]): CaId | undefined {
  const [caId, extra] = args;
  if (extra !== undefined) throw new CaError("invalid-input", `usage: ${crlUsage}`);
  if (caId === undefined) return undefined;
  if (!parseCaId(caId)) throw new CaError("invalid-input", `not a CA id: ${caId} (e.g. sign-g1)`);
  return caId as CaId;
}

/** `crl run [caId]`: a new full and delta CRL for every partition now. Exit 1 when a partition failed or stayed busy. */
export async function crlRun(service: CrlCliService, args: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  const caId = caIdArg(args);
  const crl = await crlOf(service);
  const report = await crl.scheduler.runNow(caId);
  const body = runReportBody(caId ?? null, report);
  const byCa = new Map<string, typeof report.partitions[number][]>();
  for (const p of report.partitions) byCa.set(p.caId, [...(byCa.get(p.caId) ?? []), p]);
  for (const [id, parts] of byCa) {
    const issued = parts.filter((p) => p.outcome === "issued");
    const entries = issued.reduce((n, p) => n + (p.fullEntries ?? 0), 0);
    const numbers = issued.map((p) => p.fullNumber ?? 0);
    const range = numbers.length === 0 ? "" : ` (CRL numbers ${Math.min(...numbers)}–${Math.max(...numbers)})`;
    out(`crl run ${id}: ${issued.length}/${parts.length} partitions issued a full and a delta CRL${range}, ${entries} entries in the full CRLs`);
    for (const p of parts.filter((x) => x.outcome !== "issued")) out(`  partition ${p.partition}: ${p.outcome}${p.error ? ` (${p.error})` : ""}`);
  }
  await service.stores.audit.append({
    at: service.clock.now(),
    action: "crl.run",
    actor: "cli",
    subject: caId ? `ca:${caId}` : null,
    outcome: body.failed === 0 && body.busy === 0 ? "success" : "failure",
    detail: { issued: body.issued, busy: body.busy, failed: body.failed },
  });
  return body.failed === 0 && body.busy === 0 ? 0 : 1;
}

/** Lines describing a coverage report. */
export function coverageLines(report: CoverageReport): string[] {
  const lines = [
    `crl check: ${report.ok ? "OK" : "FAILED"}: ${report.partitions} partitions, ${report.revoked} revoked unexpired certificates, ${report.listed} CRL entries`,
    `  missing ${report.missing}, misplaced ${report.misplaced}, unlisted ${report.unlisted}, stale ${report.stale}, absent ${report.absent}, pending ${report.pending}`,
  ];
  for (const p of report.problems) lines.push(`  ${p.kind}: ${p.caId} partition ${p.partition}${p.serial ? ` serial ${p.serial}` : ""}${p.crl ? ` (${p.crl} CRL)` : ""}`);
  return lines;
}

/** `crl check [caId]`: the coverage check. Exit 1 when it found a violation. */
export async function crlCheck(service: CrlCliService, args: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  const caId = caIdArg(args);
  const crl = await crlOf(service);
  const report = await crl.checkCoverage(caId);
  for (const line of coverageLines(report)) out(line);
  return report.ok ? 0 : 1;
}
