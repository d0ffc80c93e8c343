import type Router from "@koa/router";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import type { IssuanceExport } from "../../ca/approvals/approval-export.js";
import type { AuditCheckpointer } from "../../ca/audit/audit-checkpoint.js";
import type { AuditVerifier } from "../../ca/audit/audit-verifier.js";
import type { OperatorAdmin } from "../../ca/operators/operator-admin.js";
import type { TerminalRegistry } from "../../ca/operators/terminal-registry.js";
import type { DisclosureService } from "../../ca/records/disclosure.js";
import type { CertificateInquiry } from "../../ca/records/inquiry.js";
import type { RetentionService } from "../../ca/records/retention.js";
import type { RelyingPartyEnrolment } from "../../ca/relying-parties/relying-party-enrolment.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminApprovalRoutes } from "./admin-approvals.js";
import { adminAuditRoutes, type AdminAuditRouteDeps } from "./admin-audit.js";
import { adminCertificateRoutes } from "./admin-certificates.js";
import type { AdminRouteAuth } from "./admin-common.js";
import { adminDisclosureRoutes } from "./admin-disclosures.js";
import { adminOperatorRoutes } from "./admin-operators.js";
import { adminRelyingPartyRoutes, type AdminRelyingPartyRouteDeps } from "./admin-relying-parties.js";
import { adminRetentionRoutes } from "./admin-retention.js";
import { adminTerminalRoutes, type AdminTerminalRouteDeps } from "./admin-terminals.js";

/**
 * The admin API's routers (docs/api.md §7) over the admin services api/wiring/admin-controls.ts builds:
 * operators, terminals, relying parties, certificate inquiries, approvals and exports, the audit log,
 * disclosures and retention. Routes only: nothing here builds a service.
 */
export interface AdminControlRouteDeps extends AdminRouteAuth {
  readonly operators: OperatorAdmin;
  readonly terminals: TerminalRegistry;
  /** The terminal list the terminal routes show. */
  readonly terminalList: AdminTerminalRouteDeps["terminals"];
  readonly relyingParties: RelyingPartyEnrolment;
  /** The relying-party list the relying-party routes show. */
  readonly relyingPartyList: AdminRelyingPartyRouteDeps["parties"];
  readonly inquiry: CertificateInquiry;
  readonly approvals: ApprovalEngine;
  readonly exports: IssuanceExport;
  readonly verifier: AuditVerifier;
  readonly checkpointer: AuditCheckpointer;
  /** Audit log search and the checkpoint list (the audit routes read the log directly). */
  readonly auditSearch: AdminAuditRouteDeps["search"];
  readonly checkpoints: AdminAuditRouteDeps["checkpoints"];
  readonly retention: RetentionService;
  readonly disclosure: DisclosureService;
  /** The service CA certificate, sent with enrolled terminal and relying-party certificates. */
  readonly serviceCaCertificate: () => Uint8Array;
}

/** The admin routers, for createApp's `v1Routers`. */
export function adminControlRoutes(deps: AdminControlRouteDeps): Array<(openapi: OpenApiDocument) => Router> {
  const guard: AdminRouteAuth = { requireOperator: deps.requireOperator };
  const { serviceCaCertificate } = deps;
  return [
    adminOperatorRoutes({ ...guard, operators: deps.operators }),
    adminTerminalRoutes({ ...guard, registry: deps.terminals, terminals: deps.terminalList, serviceCaCertificate }),
    adminRelyingPartyRoutes({ ...guard, enrolment: deps.relyingParties, parties: deps.relyingPartyList, serviceCaCertificate }),
    adminCertificateRoutes({ ...guard, inquiry: deps.inquiry }),
    adminApprovalRoutes({ ...guard, approvals: deps.approvals, exports: deps.exports }),
    adminAuditRoutes({ ...guard, verifier: deps.verifier, search: deps.auditSearch, checkpoints: deps.checkpoints, checkpointer: async () => deps.checkpointer }),
    adminDisclosureRoutes({ ...guard, disclosure: deps.disclosure }),
    adminRetentionRoutes({ ...guard, retention: deps.retention, approvals: deps.approvals }),
  ];
}
