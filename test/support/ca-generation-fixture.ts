import { caIdOf, type CaGeneration, type CaKind } from "../../ca/types.js";

/** A CA generation row for store tests: a P-256 key URI and a placeholder certificate, no responder. */
export function fakeCaGeneration(kind: CaKind, generation: number, createdAt: Date, overrides: Partial<CaGeneration> = {}): CaGeneration {
  return {
    id: caIdOf(kind, generation),
    kind,
    generation,
    keyAlgorithm: "P-256",
    signatureAlgorithm: "ecdsa-with-SHA256",
    keyUri: `pkcs11:token=test;object=${kind}-g${generation}`,
    certificate: Uint8Array.from([0x30, 0x03, 0x02, 0x01, generation]),
    serialPrefix: generation,
    partitionCount: 4,
    status: "active",
    ocspResponderCertificate: null,
    ocspResponderKeyUri: null,
    createdAt,
    ...overrides,
  };
}
