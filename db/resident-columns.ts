import type { Gender } from "../ca/residents/resident-fields.js";

/** The resident columns the resident stores read (issuance's record check, the events' mirror and its history). */
export function residentFieldsFromRow(row: Record<string, unknown>) {
  return {
    residentCode: String(row.resident_code),
    name: String(row.name),
    nameSubstituteFlags: String(row.name_substitute_flags),
    alias: row.alias === null ? null : String(row.alias),
    aliasSubstituteFlags: row.alias_substitute_flags === null ? null : String(row.alias_substitute_flags),
    dateOfBirth: String(row.date_of_birth),
    gender: Number(row.gender) as Gender,
    address: String(row.address),
    addressSubstituteFlags: String(row.address_substitute_flags),
  };
}
