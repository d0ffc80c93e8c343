/**
 * Shared set-up for the end-entity certificate tests and bench: CA generations made by
 * ca/profiles/ca-certificate.ts with MemorySigner keys, templates over them, and a deterministic PRNG.
 */
import { buildCaCertificate } from "../../ca/profiles/ca-certificate.js";
import { defaultCaProfiles, type CaProfile } from "../../ca/profiles/ca-profile.js";
import type { SigningPersonalData } from "../../ca/profiles/end-entity-certificate.js";
import { endEntityProfile, type EndEntityProfileOverrides } from "../../ca/profiles/end-entity-profile.js";
import type { EndEntityTemplateContext } from "../../ca/profiles/end-entity-template.js";
import type { Random } from "../../ca/ports.js";
import { caIdOf, type CaKind, type KeySpec } from "../../ca/types.js";
import { MemorySigner } from "../../hsm/memory-signer.js";

export const publicBaseUrl = "http://127.0.0.1:8080";

/** A CA generation for tests: its signer and self-signed certificate. */
export interface TestCa {
  readonly kind: CaKind;
  readonly signer: MemorySigner;
  readonly certificate: Uint8Array;
}

export async function makeTestCa(kind: CaKind, spec: KeySpec = { type: "rsa", bits: 2048 }, generation = 1): Promise<TestCa> {
  const signer = MemorySigner.generate(spec);
  const profile: CaProfile = { ...defaultCaProfiles[kind], keySpec: spec, signatureAlgorithm: signer.algorithm };
  const certificate = await buildCaCertificate({
    kind,
    generation,
    profile,
    signer,
    serial: `${(0x10 + generation).toString(16)}0102030405060708`,
    notBefore: new Date("2026-01-05T00:00:00Z"),
  });
  return { kind, signer, certificate };
}

/** The template context of a test CA. */
export function templateContext(ca: TestCa, options: { partitionCount?: number; overrides?: EndEntityProfileOverrides; generation?: number } = {}): EndEntityTemplateContext {
  return {
    profile: endEntityProfile(ca.kind, { publicBaseUrl }, options.overrides),
    caId: caIdOf(ca.kind, options.generation ?? 1),
    caCertificate: ca.certificate,
    signatureAlgorithm: ca.signer.algorithm,
    partitionCount: options.partitionCount ?? 64,
  };
}

/** A fixed resident for the openssl and forge checks (no ", " inside values: openssl joins SAN entries with it). */
export const samplePersonal: SigningPersonalData = Object.freeze({
  name: "山田　太郎（ヤマダ　タロウ）",
  nameSubstituteFlags: "00010000000000",
  gender: "1",
  dateOfBirth: "319800217",
  address: "東京都新宿区歌舞伎町一丁目４番１号",
  addressSubstituteFlags: "00000100000000000",
});

/** mulberry32: a small deterministic PRNG so that a failing generated case can be replayed. */
export class SeededRandom implements Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(0, 255));
  }
}
