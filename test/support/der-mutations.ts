import { randomInt } from "node:crypto";

/** Every proper prefix of each DER: truncated input a parser must refuse. */
export function truncations(ders: readonly Uint8Array[]): Uint8Array[] {
  return ders.flatMap((der) => Array.from({ length: der.length }, (_, n) => der.subarray(0, n)));
}

/**
 * `count` copies of corpus entries, each with 1 to `maxFlips` bytes overwritten at random; one flip in
 * `headOneIn` lands in the first `headBytes` octets, where the outer tags and lengths sit.
 */
export function corruptions(corpus: readonly Uint8Array[], opts: { count: number; maxFlips: number; headBytes: number; headOneIn: number }): Uint8Array[] {
  return Array.from({ length: opts.count }, () => {
    const der = new Uint8Array(corpus[randomInt(corpus.length)]!);
    const flips = 1 + randomInt(opts.maxFlips);
    for (let f = 0; f < flips; f++) {
      const at = randomInt(opts.headOneIn) === 0 ? randomInt(Math.min(opts.headBytes, der.length)) : randomInt(der.length);
      der[at] = randomInt(256);
    }
    return der;
  });
}
