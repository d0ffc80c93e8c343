import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseHolidayCalendar, type HolidayCalendar } from "../ca/operators/operating-hours.js";
import { ConfigError } from "./config.js";

/** The shipped calendar: Japan's national holidays 2026–2027 and the New Year closure. */
export const DEFAULT_HOLIDAYS_FILE = "config/holidays.json";

/**
 * Reads the holiday calendar once at start-up (docs/design.md invariant 8). ConfigError naming the file and
 * the entry when it is missing or malformed.
 */
export function loadHolidayCalendar(file: string = DEFAULT_HOLIDAYS_FILE, cwd: string = process.cwd()): HolidayCalendar {
  const path = resolve(cwd, file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`holiday calendar ${path}: ${(e as Error).message}`);
  }
  try {
    return parseHolidayCalendar(json);
  } catch (e) {
    throw new ConfigError(`holiday calendar ${path}: ${(e as Error).message} (${(e as { field?: string }).field ?? ""})`);
  }
}
