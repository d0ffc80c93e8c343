/** One measured figure of a benchmark, optionally beside a baseline measured in the same run. */
export interface BenchResult {
  name: string;
  value: number;
  /** e.g. "sig/s", "certs/s", "ms". */
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline.value. */
  ratio?: number;
  /**
   * A goal the figure is checked against (from the issue), shown as met or missed; never changes the exit
   * code. `of: "ratio"` checks the ratio instead of the value.
   */
  target?: { op: ">=" | "<="; value: number; of?: "value" | "ratio" };
}

/** A result with its ratio to the baseline filled in. */
export function withBaseline(name: string, value: number, unit: string, baseline?: { name: string; value: number }): BenchResult {
  const r: BenchResult = { name, value, unit };
  if (baseline && baseline.value > 0) {
    r.baseline = baseline;
    r.ratio = value / baseline.value;
  }
  return r;
}

/** A benchmark that measured something and then failed: `results` holds what it measured. */
export class BenchFailure extends Error {
  constructor(
    message: string,
    readonly results: BenchResult[],
  ) {
    super(message);
    this.name = "BenchFailure";
  }
}

const fmt = (v: number): string => (!Number.isFinite(v) ? String(v) : v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3));

/** "≥ 1,000 met" / "≤ 100 missed" for a result with a target. */
export function targetText(r: BenchResult): string {
  if (!r.target) return "";
  const t = r.target;
  const actual = t.of === "ratio" ? r.ratio : r.value;
  const met = actual !== undefined && (t.op === ">=" ? actual >= t.value : actual <= t.value);
  const shown = t.of === "ratio" ? `${t.value}x` : fmt(t.value);
  return `${t.op === ">=" ? "≥" : "≤"} ${shown}${t.of === "ratio" ? " (ratio)" : ""}: ${met ? "met" : "MISSED"}`;
}

/** A plain-text table for the console (a target column appears when any result has a target). */
export function formatBenchTable(results: readonly BenchResult[]): string {
  const withTargets = results.some((r) => r.target);
  const rows = [
    ["benchmark", "value", "unit", "baseline", "baseline value", "ratio", ...(withTargets ? ["target"] : [])],
    ...results.map((r) => [
      r.name,
      fmt(r.value),
      r.unit,
      r.baseline?.name ?? "",
      r.baseline ? fmt(r.baseline.value) : "",
      r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : "",
      ...(withTargets ? [targetText(r)] : []),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? "").length)));
  const line = (row: string[]): string =>
    row.map((cell, c) => (c === 1 || c === 4 || c === 5 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
