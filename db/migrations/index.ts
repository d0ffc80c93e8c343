import { caGenerationsMigration } from "./0001-ca-generations.js";
import { certificatesMigration } from "./0002-certificates.js";
import { auditLogMigration } from "./0003-audit-log.js";
import { outboxMigration } from "./0004-outbox.js";
import { operatorsMigration } from "./0005-operators.js";
import { issuancesMigration } from "./0006-issuances.js";
import { outboxCursorsMigration } from "./0007-outbox-cursors.js";
import { crlsMigration } from "./0008-crls.js";
import { ocspMigration } from "./0009-ocsp.js";
import { relyingPartiesMigration } from "./0010-relying-parties.js";
import { residentEventsMigration } from "./0011-resident-events.js";
import { residentEventThroughputMigration } from "./0012-resident-event-throughput.js";
import { adminControlsMigration } from "./0013-admin-controls.js";
import { certificatesIssuanceIndexMigration } from "./0014-certificates-issuance-index.js";
import { livePublicKeyUniqueMigration } from "./0015-live-public-key-unique.js";
import { crlAccessLogMigration } from "./0016-crl-access-log.js";
import { residentScopeMigration } from "./0017-resident-scope.js";
import { clientCertificatesMigration } from "./0018-client-certificates.js";
import { blockedKeysMigration } from "./0019-blocked-keys.js";
import { operatorConfirmationMigration } from "./0020-operator-confirmation.js";
import { ocspDemandMigration } from "./0022-ocsp-demand.js";
import { jobLeasesMigration } from "./0023-job-leases.js";
import { nodeHeartbeatsMigration } from "./0024-node-heartbeats.js";
import { keyLookupPlansMigration } from "./0025-key-lookup-plans.js";
import { certificateLinksMigration } from "./0026-certificate-links.js";
import { statusVersionMigration } from "./0028-status-version.js";
import { holderRequestsMigration } from "./0027-holder-requests.js";
import { relyingPartyTypesMigration } from "./0029-relying-party-types.js";
import { timeIndexesMigration } from "./0030-time-indexes.js";
import type { Migration } from "./migration.js";

export type { Migration } from "./migration.js";

/**
 * Every migration, in the order it runs. To add one: create `NNNN-what.ts` exporting a Migration
 * and append it here. Never reorder, rename or edit a released entry.
 */
export const migrations: readonly Migration[] = Object.freeze([
  caGenerationsMigration,
  certificatesMigration,
  auditLogMigration,
  outboxMigration,
  operatorsMigration,
  issuancesMigration,
  outboxCursorsMigration,
  crlsMigration,
  ocspMigration,
  relyingPartiesMigration,
  residentEventsMigration,
  adminControlsMigration,
  residentEventThroughputMigration,
  certificatesIssuanceIndexMigration,
  livePublicKeyUniqueMigration,
  crlAccessLogMigration,
  residentScopeMigration,
  clientCertificatesMigration,
  blockedKeysMigration,
  operatorConfirmationMigration,
  ocspDemandMigration,
  jobLeasesMigration,
  nodeHeartbeatsMigration,
  keyLookupPlansMigration,
  certificateLinksMigration,
  holderRequestsMigration,
  statusVersionMigration,
  relyingPartyTypesMigration,
  timeIndexesMigration,
]);
