import type { Actor } from "../operators/operator-principal.js";
import type { OperatorRole } from "../operators/roles.js";
import type { Tx } from "../stores.js";

/**
 * Four-eyes approvals (告示334号 第4-8(2): bulk output only with the prior approval of the responsible
 * person; 第2-3(1): approval for important input, separated duties). A request is recorded as
 * `pending`, approved by another operator holding one of the kind's approver roles, then executed by
 * the executor registered for its kind. Requests nobody approves in time expire.
 *
 *   pending ──approve──► approved ──execute──► executed (result; a one-time result may be consumed)
 *      │                                 └──► failed
 *      ├──reject──► rejected
 *      └──(expiresAt passed)──► expired
 */
export type ApprovalStatus = "pending" | "approved" | "executed" | "failed" | "rejected" | "expired";

export const approvalStatuses: readonly ApprovalStatus[] = ["pending", "approved", "executed", "failed", "rejected", "expired"];

export interface ApprovalRecord {
  /** Random, URL-safe. */
  readonly id: string;
  /** The executor kind, e.g. "issuance-export". */
  readonly kind: string;
  readonly status: ApprovalStatus;
  /** Operator id of the requester ("cli" for the local command line). */
  readonly requestedBy: string;
  readonly requestedAt: Date;
  /** A pending request expires at this instant. */
  readonly expiresAt: Date;
  /** The validated parameters (JSON). May hold personal data: not for logs. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Who approved or rejected it. */
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly executedAt: Date | null;
  /** What the executor answered (JSON). */
  readonly result: Readonly<Record<string, unknown>> | null;
  /** Why execution failed: a CaError message (no personal data). */
  readonly failure: string | null;
  /** When a one-time result (an export file) was collected. */
  readonly consumedAt: Date | null;
}

/** Fields a transition may set. */
export interface ApprovalChange {
  readonly status: ApprovalStatus;
  readonly decidedBy?: string;
  readonly decidedAt?: Date;
  readonly executedAt?: Date;
  readonly result?: Readonly<Record<string, unknown>>;
  readonly failure?: string;
  /** The requester's part of a one-time secret the execution produced (ApprovalHandover), kept until collected. */
  readonly handover?: string;
}

/**
 * A one-time secret produced when an approval executes (an operator's first password), split so that
 * no single person learns it (split knowledge, 告示334号 第2-3(1)): the requester collects one part
 * once (ApprovalEngine.collectHandover; stored until then), the approver receives the other in the
 * answer to the approval (never stored). The new operator types both parts, in order, as one password.
 */
export interface ApprovalHandover {
  readonly requesterPart: string;
  readonly approverPart: string;
}

export interface ApprovalListFilter {
  readonly status?: ApprovalStatus;
  readonly kind?: string;
  /** At most this many, newest first. */
  readonly limit: number;
}

/** Store port of approvals. Adapter: db/approval-store.ts. */
export interface ApprovalStore {
  /** CaError("conflict") when the id exists. */
  insert(record: ApprovalRecord, tx?: Tx): Promise<void>;
  get(id: string, tx?: Tx): Promise<ApprovalRecord | undefined>;
  list(filter: ApprovalListFilter, tx?: Tx): Promise<ApprovalRecord[]>;
  /**
   * Compare-and-set: applies `change` only if the record is in status `from`. False otherwise, so two
   * approvers racing (or an approval racing the expiry) cannot both win.
   */
  transition(id: string, from: ApprovalStatus, change: ApprovalChange, tx?: Tx): Promise<boolean>;
  /** Pending records whose expiresAt is before `now`, at most `limit`, oldest first. */
  listExpired(now: Date, limit: number, tx?: Tx): Promise<ApprovalRecord[]>;
  /** Sets consumedAt once, on an executed record. False when not executed or already consumed. */
  markConsumed(id: string, at: Date, tx?: Tx): Promise<boolean>;
  /** Returns the stored handover part and clears it, atomically; undefined when none is left. */
  takeHandover(id: string, tx?: Tx): Promise<string | undefined>;
}

/**
 * What runs a kind of request once it is approved. Executors are registered with the ApprovalEngine
 * (ca/approvals/approval-engine.ts); the export executor is ca/approvals/approval-export.ts, others (new CA generation,
 * mass revocation, resuming the change-event safety valve) plug in the same way.
 */
export interface ApprovalExecutor<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly kind: string;
  /** One line for the OpenAPI document and the audit log. */
  readonly description: string;
  /** Who may ask for it (any one of these roles). */
  readonly requestRoles: readonly OperatorRole[];
  /** Who may approve it (any one of these roles; never the requester). */
  readonly approveRoles: readonly OperatorRole[];
  /** How long a request stays pending; default the engine's. */
  readonly ttlMs?: number;
  /**
   * Validates the parameters at request time (CaError "invalid-input" naming the field). The result is
   * stored and handed to `execute` as is.
   */
  parse(params: unknown): P;
  /**
   * A summary of the parameters for the audit log's `detail` (may include personal data: the audit
   * log is not a log file) — default: the parameters themselves.
   */
  auditDetail?(params: P): Record<string, unknown>;
  /**
   * The operator account the request is about (an account change), if any. The engine then refuses
   * that account's own approval and the approval of anyone who sponsored it (issue 12).
   */
  subjectOperator?(params: P): string | undefined;
  /**
   * Does the approved work. Runs outside any transaction of the engine (it may open its own). The
   * answer is stored as the record's result (JSON). A CaError marks the request failed with its message.
   */
  execute(approval: ApprovalRecord & { readonly params: P }, approver: Actor, handover: (parts: ApprovalHandover) => void): Promise<Record<string, unknown>>;
}
