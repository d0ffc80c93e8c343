/**
 * End-entity TBSCertificate encodings per second on one core: the pkijs reference builder
 * (ca/profiles/end-entity-certificate.ts) against the precomputed DER template (ca/profiles/end-entity-template.ts),
 * for a signing certificate (six personal-data otherNames, locality in the DN) and a user-auth one.
 * Both get the same inputs: RSA-2048 subject keys, RSA-2048 CA, 64 partitions, fresh serial and
 * subject id per certificate. The template's ratio is against the reference measured in the same run.
 *
 * Run alone: `npx tsx bench/tbs.bench.ts` (prints a table).
 */
import { fileURLToPath } from "node:url";
import { buildEndEntityTbsReference } from "../ca/profiles/end-entity-certificate.js";
import { EndEntityTemplate, type EndEntityVariableFields } from "../ca/profiles/end-entity-template.js";
import { partitionOf } from "../ca/issuance/serial.js";
import { generateSubjectId } from "../ca/profiles/subject-id.js";
import type { CaKind } from "../ca/types.js";
import { MemorySigner } from "../hsm/memory-signer.js";
import { makeTestCa, samplePersonal, SeededRandom, templateContext } from "../test/support/end-entity-fixtures.js";
import { formatBenchTable, withBaseline, type BenchResult } from "./result.js";

export interface BenchTbsOptions {
  /** Seconds per measurement (default 2). */
  seconds?: number;
}

/** Calls `fn(i)` for `seconds`; returns calls per second. */
function rate(fn: (i: number) => Uint8Array, seconds: number): number {
  for (let i = 0; i < 200; i++) fn(i); // warm-up (JIT, CRL DP and locality caches)
  let count = 0;
  let sink = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    for (let j = 0; j < 16; j++) sink += fn(count++).length;
  }
  if (sink === 0) throw new Error("nothing encoded");
  return count / ((performance.now() - started) / 1000);
}

/** TBS/s of the reference and the template, for both certificate kinds. */
export async function benchTbs(options: BenchTbsOptions = {}): Promise<BenchResult[]> {
  const seconds = options.seconds ?? 2;
  const rng = new SeededRandom(2026);
  const keys = [MemorySigner.generate({ type: "rsa", bits: 2048 }).publicKey, MemorySigner.generate({ type: "rsa", bits: 2048 }).publicKey];
  const results: BenchResult[] = [];
  for (const kind of ["sign", "auth"] as CaKind[]) {
    const template = EndEntityTemplate.for(templateContext(await makeTestCa(kind), { partitionCount: 64 }));
    const inputs: EndEntityVariableFields[] = Array.from({ length: 1024 }, (_, i) => {
      const serialHex = `01${Buffer.from(rng.bytes(15)).toString("hex")}`;
      return {
        serialHex,
        partition: partitionOf(serialHex, 64),
        notBefore: new Date(Date.UTC(2026, 10, 22, 1, 2, 3)),
        notAfter: new Date(Date.UTC(2031, 1, 17, 14, 59, 59)),
        subjectId: generateSubjectId(rng),
        subjectPublicKey: keys[i % 2]!,
        ...(kind === "sign" ? { locality: { prefecture: "Tokyo", municipality: "Shinjuku-ku" }, personal: samplePersonal } : {}),
      };
    });
    const at = (i: number): EndEntityVariableFields => inputs[i & 1023]!;
    const referenceName = `${kind} TBS, pkijs reference builder`;
    const reference = rate((i) => buildEndEntityTbsReference(template.referenceFields(at(i))), seconds);
    const fast = rate((i) => template.tbs(at(i)), seconds);
    results.push({ name: referenceName, value: reference, unit: "TBS/s" });
    results.push(withBaseline(`${kind} TBS, DER template`, fast, "TBS/s", { name: referenceName, value: reference }));
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatBenchTable(await benchTbs()));
}
