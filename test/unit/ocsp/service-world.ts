import type { OutboxMessage, OutboxReader, OutboxTopic } from "../../../ca/revocation/outbox.js";
import type { Clock, Signer } from "../../../ca/ports.js";
import type { CaGeneration } from "../../../ca/types.js";
import type { OcspMetrics, SignaturePurpose } from "../../../ocsp/ocsp-metrics.js";
import { OcspService, type OcspServiceOptions } from "../../../ocsp/ocsp-service.js";
import type { MemoryOcspStore } from "./memory-ocsp-store.js";

/** Test doubles shared by the OCSP service suites (ocsp-responder.test.ts, demand.test.ts). */

/** A memory outbox with per-consumer cursors (ca/revocation/outbox.ts semantics). */
export class MemoryOutbox implements OutboxReader {
  readonly messages: OutboxMessage[] = [];
  private readonly cursors = new Map<string, number>();
  add(topic: OutboxTopic, payload: Record<string, unknown>): void {
    this.messages.push({ id: this.messages.length + 1, topic, payload, createdAt: new Date() });
  }
  async readAfterCursor(consumer: string, limit: number): Promise<OutboxMessage[]> {
    const after = this.cursors.get(consumer) ?? 0;
    return this.messages.filter((m) => m.id > after).slice(0, limit);
  }
  async advanceCursor(consumer: string, lastId: number): Promise<void> {
    this.cursors.set(consumer, Math.max(this.cursors.get(consumer) ?? 0, lastId));
  }
}

/** Wraps a Signer so tests can hold signatures back. */
export class GatedSigner implements Signer {
  private release: (() => void) | undefined;
  private blocked: Promise<void> | undefined;
  signatures = 0;
  constructor(private readonly inner: Signer) {}
  get algorithm() {
    return this.inner.algorithm;
  }
  get publicKey() {
    return this.inner.publicKey;
  }
  hold(): void {
    this.blocked = new Promise((r) => (this.release = r));
  }
  /** Holds only the next signature back. */
  holdNext(): void {
    this.hold();
    this.once = true;
  }
  private once = false;
  open(): void {
    this.release?.();
    this.blocked = undefined;
  }
  async sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.blocked) {
      const b = this.blocked;
      if (this.once) {
        this.blocked = undefined;
        this.once = false;
      }
      await b;
    }
    this.signatures++;
    return this.inner.sign(data);
  }
}

/** Counts signatures by cause and keeps the stored-responses gauge (the OcspMetrics port). */
export class SignatureCounts implements OcspMetrics {
  readonly signatures = new Map<string, number>();
  stored = -1;
  countResponse(): void {}
  countPresignedLookup(): void {}
  setOldestResponseAge(): void {}
  setSigningQueueDepth(): void {}
  countSignature(purpose: SignaturePurpose): void {
    this.signatures.set(purpose, (this.signatures.get(purpose) ?? 0) + 1);
  }
  setStoredResponses(n: number): void {
    this.stored = n;
  }
  of(purpose: SignaturePurpose): number {
    return this.signatures.get(purpose) ?? 0;
  }
}

/** An OcspService over memory doubles: one "process" (its own cache) sharing `store` and `outbox`. */
export function memoryOcspService(
  world: { readonly generations: CaGeneration[]; readonly signers: ReadonlyMap<string, Signer>; readonly store: MemoryOcspStore; readonly outbox: MemoryOutbox; readonly clock: Clock; readonly metrics?: OcspMetrics },
  options: Partial<OcspServiceOptions> = {},
): Promise<OcspService> {
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
  return OcspService.create(
    {
      clock: world.clock,
      random: { bytes: (n) => new Uint8Array(n) },
      generations: { list: async () => world.generations, setOcspResponder: async () => undefined },
      transactions: { transaction: (w) => w(undefined) },
      audit: { append: async () => ({}) as never },
      outbox: world.outbox,
      responses: world.store,
      statuses: world.store,
      accessLog: world.store,
      signerFor: async (uri) => world.signers.get(uri)!,
      ...(world.metrics ? { metrics: world.metrics } : {}),
      log: silent,
    },
    options,
  );
}
