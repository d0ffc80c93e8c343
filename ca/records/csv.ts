/**
 * CSV output (RFC 4180): comma-separated, CRLF line ends, fields quoted when they hold a comma, a quote
 * or a line break, quotes doubled. Cells that a spreadsheet would run as a formula (leading `=`, `+`,
 * `-`, `@`, tab or CR: OWASP "CSV injection") get a leading apostrophe, so an exported file opened in
 * a spreadsheet never executes data.
 */

export type CsvCell = string | number | boolean | null | undefined | Date;

/** One CSV record, CRLF-terminated. */
export function csvLine(cells: readonly CsvCell[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

/** One CSV field. null/undefined → empty; Date → ISO 8601. */
export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return "";
  let text = value instanceof Date ? value.toISOString() : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
