/**
 * The docs/api.md §4 sample application (with correct address flags), shared by the resident-field
 * tests: resident-fields.test.ts and jis-x0208.test.ts change one field of it at a time.
 */
import { codePointLength } from "../../../../ca/residents/full-width.js";

/** 2026-11-22 12:00 JST: the day the sample is applied for. */
export const NOW = new Date("2026-11-22T03:00:00Z");
export const ADDRESS = "東京都新宿区歌舞伎町一丁目４番１号";
/** Substitute flags of "0" for every character (code point) of `s`. */
export const zeros = (s: string): string => "0".repeat(codePointLength(s));

/** A fresh sample application: `resident` overrides resident fields, `top` the top-level ones. */
export function sampleApplication(resident: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, any> {
  return {
    municipalityCode: "131041",
    applicationDate: "2026-11-22",
    residentCode: "12345678901",
    resident: {
      name: "山田　太郎",
      nameSubstituteFlags: "00000",
      alias: null,
      dateOfBirth: "1980-02-17",
      gender: 1,
      address: ADDRESS,
      addressSubstituteFlags: zeros(ADDRESS),
      cardExpiry: "2035-02-17",
      residencePeriodEnd: null,
      underGuardianship: false,
      ...resident,
    },
    requests: [{ kind: "auth", csr: "x" }],
    ...top,
  };
}
