import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CaError } from "../../ca/errors.js";
import { PublicKeyRefusedError } from "../../ca/issuance/issuance-ports.js";
import type { NewPendingCertificate } from "../../ca/stores.js";
import { PUBLIC_KEY_IN_USE } from "../../ca/stores.js";
import type { CaGeneration, CaKind } from "../../ca/types.js";
import type { StoreFixture } from "./stores.js";

/**
 * CertificateStore cases of issue #12 item 5 (migration 0019; the memory double mirrors it): a key revoked
 * for keyCompromise is blocked for ever, a key in any revoked certificate is never certified again. Called
 * from storesContract (test/contract/stores.ts) inside its CertificateStore block, with its fixture.
 */
export interface KeyReuseContext {
  fx(): StoreFixture;
  /** The suite's signing CA generation. */
  sign(): CaGeneration;
  generation(kind: CaKind): CaGeneration;
  pending(overrides?: Partial<NewPendingCertificate>): NewPendingCertificate;
  /** A revocation with reason keyCompromise. */
  readonly revocation: { status: "revoked"; reason: "keyCompromise"; revokedAt: Date; invalidityDate: null };
}

const hex = (n: number): string => randomBytes(n).toString("hex");

export function keyReuseCases(c: KeyReuseContext): void {
  it("blocks for ever a key revoked for keyCompromise, for both kinds, whatever else happens (migration 0019)", async () => {
    const key = hex(32);
    const first = c.pending({ publicKeySha256: key });
    await c.fx().certificates.insertPending(first);
    await c.fx().certificates.completeIssued(first.serial, Uint8Array.from([1]));
    await c.fx().certificates.revoke(first.serial, c.revocation); // keyCompromise
    // Every kind, and a CA generation created after the revocation (a new CA key does not unblock it).
    const [authCa, nextSignCa] = [c.generation("auth"), c.generation("sign")];
    for (const g of [authCa, nextSignCa]) await c.fx().caGenerations.insert(g);
    const blocked = (e: unknown) => e instanceof PublicKeyRefusedError && e.kind === "conflict" && e.rule === "blocked" && e.publicKeySha256 === key;
    for (const [kind, caId] of [["sign", c.sign().id], ["sign", nextSignCa.id], ["auth", authCa.id]] as const) {
      const again = c.pending({ publicKeySha256: key, kind, caId });
      await assert.rejects(c.fx().certificates.insertPending(again), blocked);
      assert.equal(await c.fx().certificates.get(again.serial), undefined, "nothing stored");
    }
    // Held first, then revoked for keyCompromise: blocked too; in a transaction that rolls back: not.
    const heldKey = hex(32);
    const held = c.pending({ publicKeySha256: heldKey });
    await c.fx().certificates.insertPending(held);
    await c.fx().certificates.revoke(held.serial, { ...c.revocation, status: "hold", reason: "certificateHold" });
    await assert.rejects(
      c.fx().transactions.transaction(async (tx) => {
        await c.fx().certificates.revoke(held.serial, c.revocation, tx);
        throw new Error("roll back");
      }),
      /roll back/,
    );
    await assert.rejects(c.fx().certificates.insertPending(c.pending({ publicKeySha256: heldKey })), (e: unknown) => e instanceof CaError && e.message === PUBLIC_KEY_IN_USE);
    await c.fx().certificates.revoke(held.serial, c.revocation);
    await assert.rejects(c.fx().certificates.insertPending(c.pending({ publicKeySha256: heldKey })), (e: unknown) => e instanceof PublicKeyRefusedError && e.rule === "blocked");
  });

  it("never certifies again a key in a revoked certificate of either kind, whatever the reason (migration 0019)", async () => {
    const authCa = c.generation("auth");
    await c.fx().caGenerations.insert(authCa);
    for (const reason of ["superseded", "affiliationChanged", "cessationOfOperation", "unspecified"] as const) {
      const key = hex(32);
      const first = c.pending({ publicKeySha256: key, kind: "sign", caId: c.sign().id });
      await c.fx().certificates.insertPending(first);
      await c.fx().certificates.completeIssued(first.serial, Uint8Array.from([1]));
      await c.fx().certificates.revoke(first.serial, { ...c.revocation, reason });
      for (const kind of ["sign", "auth"] as const) {
        await assert.rejects(
          c.fx().certificates.insertPending(c.pending({ publicKeySha256: key, kind, caId: kind === "sign" ? c.sign().id : authCa.id })),
          (e: unknown) => e instanceof PublicKeyRefusedError && e.rule === "certified-before" && e.publicKeySha256 === key,
          `${reason} → ${kind}`,
        );
      }
    }
  });
}
