/** One measured figure of a benchmark, optionally beside a baseline measured in the same run. */
export interface BenchResult {
  name: string;
  value: number;
  /** e.g. "sig/s", "certs/s", "ms". */
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline.value. */
  ratio?: number;
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

const fmt = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3));

/** A plain-text table for the console. */
export function formatBenchTable(results: readonly BenchResult[]): string {
  const rows = [
    ["benchmark", "value", "unit", "baseline", "baseline value", "ratio"],
    ...results.map((r) => [
      r.name,
      fmt(r.value),
      r.unit,
      r.baseline?.name ?? "",
      r.baseline ? fmt(r.baseline.value) : "",
      r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : "",
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? "").length)));
  const line = (row: string[]): string =>
    row.map((cell, c) => (c === 1 || c === 4 || c === 5 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
