import type { EventTransport } from "../ca/residents/resident-event-ports.js";
import type { AuditStore, Tx } from "../ca/stores.js";
import type { ApplyItem, ApplyResult } from "./resident-event-applier.js";
import type { RejectedEvent } from "./resident-event-schema.js";

/**
 * Audit entries of an event transaction, in that transaction (docs/design.md invariant 3): one entry listing
 * every event the transaction stored, with resident code, type, outcome and the certificates revoked
 * (the audit log may hold personal data: it is what answers a disclosure request, docs/domain.md §6), and one
 * entry per safety-valve alarm. Duplicates changed nothing and are not audited. Appended last in the
 * transaction: the audit chain's lock serialises writers until commit.
 */
export async function auditApplyResult(
  audit: Pick<AuditStore, "append">,
  result: ApplyResult,
  items: readonly ApplyItem[],
  context: {
    readonly action: string;
    readonly actor: string;
    readonly transport: EventTransport;
    readonly now: Date;
    readonly detail?: Readonly<Record<string, unknown>>;
    readonly rejectedOnArrival?: readonly RejectedEvent[];
  },
  tx: Tx,
): Promise<void> {
  const { now, actor } = context;
  const events = items.map(({ key, event }) => {
    const o = result.outcomes.get(key);
    return {
      eventId: event.eventId,
      residentCode: event.residentCode,
      type: event.type,
      effectiveDate: event.effectiveDate,
      outcome: o?.outcome ?? "unknown",
      ...(o?.reason ? { reason: o.reason } : {}),
      revoked: o?.revoked ?? [],
    };
  });
  const rejected = (context.rejectedOnArrival ?? []).map((r) => ({ key: r.key, eventId: r.eventId, residentCode: r.residentCode, reason: r.reason, size: r.size }));
  if (events.length > 0 || rejected.length > 0) {
    await audit.append(
      {
        at: now,
        action: context.action,
        actor,
        subject: null,
        outcome: "success",
        detail: { transport: context.transport, ...(context.detail ?? {}), events, ...(rejected.length > 0 ? { rejected } : {}) },
      },
      tx,
    );
  }
  for (const alarm of result.alarms) {
    if (alarm.kind === "rate-breaker") {
      await audit.append(
        {
          at: now,
          action: "events.safety-valve.tripped",
          actor,
          subject: "event-safety-valve",
          outcome: "failure",
          detail: { reason: "rate-breaker", limit: alarm.limit, windowMs: alarm.windowMs, inWindow: alarm.inWindow, wouldRevoke: alarm.wouldRevoke, atEvent: alarm.key },
        },
        tx,
      );
    } else {
      await audit.append(
        {
          at: now,
          action: "resident-event.revocation-cap-exceeded",
          actor,
          subject: `resident-event:${alarm.key}`,
          outcome: "failure",
          detail: { eventKey: alarm.key, residentCode: alarm.residentCode, wouldRevoke: alarm.wouldRevoke, cap: alarm.cap },
        },
        tx,
      );
    }
  }
}
