/**
 * The OCSP signing load, measured and projected (issue 13: "HSM signatures needed ≤ 25 % of the raw signing
 * rate measured in the same run, show the arithmetic from the measured 10 M run").
 *
 * The model is docs/ocsp.md "Cost at national scale": N certificates, R checks a day, each check about
 * certificate i with probability 1/(i·H_N) (Zipf, s = 1), one hash algorithm per certificate, validity V
 * (24 h) refreshed at half-life while asked within the demand window W (72 h). With λ_i = R/(i·H_N) a day:
 * - stored (asked within W) ≈ Σ 1 − e^(−λ_i W), each costing 24 h ÷ (V/2) refresh signatures a day;
 * - first requests (a request after a quiet window) ≈ Σ λ_i e^(−λ_i W) a day;
 * - status changes: revocations a year, re-signed only when stored (× stored ÷ N).
 * The sum runs term by term over the first million ranks and in geometric buckets (ratio 1.001) beyond.
 *
 * What the benchmark run measures beside it: the signatures per answer of the steady state (a fresh Zipf
 * draw after the warm-up: bench/scale-http.ts) and the raw SoftHSM P-256 rate (bench/signer.bench.ts's
 * rawSignRates, same token, same run). The projection is printed as a share of that raw rate.
 */
export interface SigningModel {
  readonly certificates: number;
  readonly checksPerDay: number;
  /** Demand window W, hours (ocsp.demandWindowHours, default 72). */
  readonly windowHours: number;
  /** Response validity, hours (24); refreshed at half-life. */
  readonly validityHours: number;
  /** Revocations a year (docs/ocsp.md: 8–10 M at 200 M certificates). */
  readonly revocationsPerYear: number;
}

export const NATIONAL: SigningModel = Object.freeze({ certificates: 200_000_000, checksPerDay: 1e8, windowHours: 72, validityHours: 24, revocationsPerYear: 9_000_000 });

export interface SigningProjection {
  /** Distinct certificates asked within the window (responses kept fresh). */
  readonly stored: number;
  readonly refreshPerSecond: number;
  readonly firstRequestPerSecond: number;
  readonly statusChangePerSecond: number;
  readonly totalPerSecond: number;
  /** Average checks per second (R ÷ 86,400). */
  readonly checksPerSecond: number;
}

/** Σ f(i) for i = 1 … n: exact up to 10^6, then geometric buckets (f is smooth and monotone there). */
function zipfSum(n: number, f: (i: number) => number): number {
  let sum = 0;
  const exact = Math.min(n, 1_000_000);
  for (let i = 1; i <= exact; i++) sum += f(i);
  let lo = exact + 1;
  while (lo <= n) {
    const hi = Math.min(n, Math.max(lo, Math.floor(lo * 1.001)));
    sum += f((lo + hi) / 2) * (hi - lo + 1);
    lo = hi + 1;
  }
  return sum;
}

/** The signatures a second the demand-driven design needs for `m` (docs/ocsp.md's model). */
export function projectSigningLoad(m: SigningModel): SigningProjection {
  const h = zipfSum(m.certificates, (i) => 1 / i);
  const w = m.windowHours / 24; // days
  const lambda = (i: number): number => m.checksPerDay / (i * h); // checks a day about certificate i
  const stored = zipfSum(m.certificates, (i) => 1 - Math.exp(-lambda(i) * w));
  const refreshPerSecond = (stored * (24 / (m.validityHours / 2))) / 86_400;
  const firstRequestPerSecond = zipfSum(m.certificates, (i) => lambda(i) * Math.exp(-lambda(i) * w)) / 86_400;
  const statusChangePerSecond = (m.revocationsPerYear / (365 * 86_400)) * (stored / m.certificates);
  return {
    stored,
    refreshPerSecond,
    firstRequestPerSecond,
    statusChangePerSecond,
    totalPerSecond: refreshPerSecond + firstRequestPerSecond + statusChangePerSecond,
    checksPerSecond: m.checksPerDay / 86_400,
  };
}

/** The arithmetic as printed lines: the measured steady state, the raw rate, the projection and its share. */
export function signingLoadLines(measured: { label: string; responsesPerSecond: number; signaturesPerSecond: number; rawSignRate: number }, p: SigningProjection, m: SigningModel = NATIONAL): string[] {
  const f = (x: number): string => Math.round(x).toLocaleString("en-US");
  const perAnswer = measured.signaturesPerSecond / Math.max(1, measured.responsesPerSecond);
  const pct = (x: number): string => `${((100 * x) / measured.rawSignRate).toFixed(1)} %`;
  const closedLoop = perAnswer * p.checksPerSecond + p.refreshPerSecond;
  return [
    `signing load: measured at ${measured.label}, steady state: ${f(measured.signaturesPerSecond)} signatures/s ÷ ${f(measured.responsesPerSecond)} answers/s = ${perAnswer.toFixed(3)} signatures per answer; raw SoftHSM P-256 in this run: ${f(measured.rawSignRate)}/s`,
    `signing load: ${(m.certificates / 1e6).toFixed(0)} M certificates, ${m.checksPerDay.toExponential(0)} checks/day (${f(p.checksPerSecond)}/s), Zipf s = 1, ${m.windowHours} h window, ${m.validityHours} h validity: ` +
      `stored ${(p.stored / 1e6).toFixed(1)} M × ${(24 / (m.validityHours / 2)).toFixed(0)}/day = ${f(p.refreshPerSecond)} refresh/s + ${f(p.firstRequestPerSecond)} first requests/s + ${p.statusChangePerSecond.toFixed(2)} status changes/s = ${f(p.totalPerSecond)} signatures/s = ${pct(p.totalPerSecond)} of the raw signing rate (target ≤ 25 %)`,
    `signing load: pessimistic bound, every check as the benchmark's steady state (${perAnswer.toFixed(3)} × ${f(p.checksPerSecond)}/s) + the refresh = ${f(closedLoop)} signatures/s = ${pct(closedLoop)} of the raw signing rate`,
  ];
}
