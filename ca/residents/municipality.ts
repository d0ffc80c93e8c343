import { CaError } from "../errors.js";
import { isMunicipalityCode } from "./resident-fields.js";

/**
 * The locality attributes of a signing certificate's subject DN (docs/domain.md §2:
 * `C=JP, L=<prefecture>, L=<municipality>, CN=<opaque id>`). They name the **issuing municipality**
 * (from the request's 全国地方公共団体コード), never the resident: no personal data here.
 *
 * - prefecture: romanized name (Hepburn without macrons, as J-LIS writes "Tokyo", "Hyogo", "Kochi"),
 *   by the JIS X 0401 prefecture code = the first 2 digits of the municipality code;
 * - municipality: from a configurable table `{ "131041": "Shinjuku-ku" }` [U: J-LIS's own table is not
 *   public; one test card shows "Kiyose-shi"], falling back to the 6-digit code itself.
 */

/** JIS X 0401 prefecture codes 01–47 → romanized names (index 0 is code 01). */
export const prefectureNames: readonly string[] = Object.freeze([
  "Hokkaido", "Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima", // 01–07
  "Ibaraki", "Tochigi", "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa", // 08–14
  "Niigata", "Toyama", "Ishikawa", "Fukui", "Yamanashi", "Nagano", // 15–20
  "Gifu", "Shizuoka", "Aichi", "Mie", // 21–24
  "Shiga", "Kyoto", "Osaka", "Hyogo", "Nara", "Wakayama", // 25–30
  "Tottori", "Shimane", "Okayama", "Hiroshima", "Yamaguchi", // 31–35
  "Tokushima", "Kagawa", "Ehime", "Kochi", // 36–39
  "Fukuoka", "Saga", "Nagasaki", "Kumamoto", "Oita", "Miyazaki", "Kagoshima", "Okinawa", // 40–47
]);

/** Municipality code (6 digits) → municipality name as it goes into the DN. */
export type MunicipalityNames = Readonly<Record<string, string>>;

/** The two L attributes of a signing certificate's subject. */
export interface Locality {
  readonly prefecture: string;
  readonly municipality: string;
}

/** RFC 5280 Appendix A: ub-locality-name 128. */
const MAX_LOCALITY = 128;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

/** The romanized prefecture of a municipality code. CaError("invalid-input", field) for an unknown one. */
export function prefectureOf(municipalityCode: string, field = "municipalityCode"): string {
  if (!/^\d{6}$/.test(municipalityCode)) throw new CaError("invalid-input", `${field} must be 6 digits`, { field });
  const name = prefectureNames[Number(municipalityCode.slice(0, 2)) - 1];
  if (name === undefined) throw new CaError("invalid-input", `${field} has no prefecture code 01–47 (JIS X 0401)`, { field });
  return name;
}

/**
 * Checks a municipality table once at start-up (docs/design.md invariant 8) and returns a frozen copy.
 * Keys: valid 6-digit codes (JIS X 0402 check digit, prefecture 01–47); values: 1–128 characters
 * without control characters. Throws CaError("invalid-input", field `${field}.<code>`).
 */
export function validateMunicipalityNames(table: Readonly<Record<string, unknown>>, field = "profile.municipalityNames"): MunicipalityNames {
  if (typeof table !== "object" || table === null || Array.isArray(table)) {
    throw new CaError("invalid-input", `${field} must be an object`, { field });
  }
  const out: Record<string, string> = {};
  for (const [code, name] of Object.entries(table)) {
    const f = /^\d{6}$/.test(code) ? `${field}.${code}` : field;
    if (!isMunicipalityCode(code)) throw new CaError("invalid-input", `${f}: key must be a municipality code with a valid check digit`, { field: f });
    prefectureOf(code, f);
    if (typeof name !== "string" || name.length === 0 || [...name].length > MAX_LOCALITY || CONTROL.test(name)) {
      throw new CaError("invalid-input", `${f} must be 1–${MAX_LOCALITY} characters without control characters`, { field: f });
    }
    out[code] = name;
  }
  return Object.freeze(out);
}

/** Prefecture and municipality name of a municipality code; the code itself when the table has no name. */
export function localityOf(municipalityCode: string, names: MunicipalityNames = {}, field = "municipalityCode"): Locality {
  const prefecture = prefectureOf(municipalityCode, field);
  const municipality = Object.hasOwn(names, municipalityCode) ? names[municipalityCode]! : municipalityCode;
  return { prefecture, municipality };
}
