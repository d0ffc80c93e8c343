import type { Migration } from "./migration.js";

/**
 * OCSP freshness that follows demand (docs/ocsp.md "Demand-driven responses"): a response is signed
 * when first asked for, refreshed at half-life only while relying parties keep asking, and deleted
 * once nobody asked within the window and it has expired.
 *
 * - `last_requested_at`: when a relying party last asked (batched, ocsp/demand-recorder.ts).
 * - `refresh_at`: when the refresher re-signs it (half-life, written by every put); null: out of the
 *   refresh (not asked within the window), left to expire and then be dropped.
 *
 * Rows written before this migration get both null: they are not refreshed, expire within a validity
 * and are dropped, unless a request revives them (touch sets refresh_at). No table rewrite.
 * The refresh and the drop read partial indexes, so rows out of the refresh are never scanned by the
 * refresher, nor live rows by the dropper; the this_update index (oldest-age metric) is limited to
 * refreshed rows likewise.
 */
export const ocspDemandMigration: Migration = {
  name: "0022-ocsp-demand",
  async up(knex) {
    await knex.raw("alter table ocsp_responses add column last_requested_at timestamptz null, add column refresh_at timestamptz null");
    await knex.raw("drop index ocsp_responses_this_update_idx");
    await knex.raw("create index ocsp_responses_refresh_at_idx on ocsp_responses (refresh_at) where refresh_at is not null");
    await knex.raw("create index ocsp_responses_refreshed_this_update_idx on ocsp_responses (this_update) where refresh_at is not null");
    await knex.raw("create index ocsp_responses_unrefreshed_next_update_idx on ocsp_responses (next_update) where refresh_at is null");
  },
  async down(knex) {
    await knex.raw("drop index ocsp_responses_unrefreshed_next_update_idx");
    await knex.raw("drop index ocsp_responses_refreshed_this_update_idx");
    await knex.raw("drop index ocsp_responses_refresh_at_idx");
    await knex.raw("create index ocsp_responses_this_update_idx on ocsp_responses (this_update)");
    await knex.raw("alter table ocsp_responses drop column refresh_at, drop column last_requested_at");
  },
};
