import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { closePrimeModulus, modulusOf, smallFactorModulus } from "../../../support/weak-key-fixtures.js";
import { fermatFactor, FERMAT_ROUNDS, hasRocaFingerprint, isqrt, passesRocaResidueFilter, smallPrimeFactor, weakRsaModulus } from "../../../../ca/profiles/weak-keys.js";

/**
 * Public test vectors:
 * - ROCA-positive keys: github.com/titanous/rocacheck rocacheck_test.go ("bad"), and crocs-muni/roca
 *   roca/tests/data/mod03.txt; ROCA-negative keys: rocacheck "good".
 * - "Fake" moduli (crocs-muni/roca test_fingerprint.py test_fake_mods): they pass the per-prime
 *   residue filter but have no single discrete logarithm, so the exact detector must not flag them.
 */
const rocaPem = [
  `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlze9c7qGdjDLVR/ntk+4ZkfMcYsAnmfTFHfe3Xv7jRQqPCXCULtr0y0jG3aRJmEenoXO9uDveqr43gFB9yvAdLEhu0aJqpB7lNZ+yXsvfVp/96dkSN8oWYL/dd9Z7GQOvVniHUY3Xsd7zdw2eYOyHSXhhA2Ttwnj3c1jEYfC0y9q1cU99aL0ogGDqolcOvlkJu+mGb+6+WyboFa1gwRukYxBHZWKiHCt/eihvXsPTzTlXmTXWdGJtA1xZDnCBWuZ90b5R0agXVIESTl0cCyHaQM/tLZmktJIU+Eu7ALBXemPg9kh3SCnYd3/YvDGCtYSXOWthHwlP5CImRBcQaNncQIDAQAB`,
  `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnDSwGO+LetuWIPxBrWIVEZhfr8VB7tnXBnFaNev61bT1lViBUAN8rmMBw2rd/a6Lw4SjDi+3Fc7hpQtccMyrz3Z52VVsuS1Df94/2GJ2J+B8qw0dTHQoVjPGaOrRads5cjrI1fvgcKNhfwXHd8jh6fCHwVIruU8E2wgTu91ceTzAODzCe1aWbE0QMYTV11E0t2+vt808AWsYMDOWMIOa0sFZD1DzQSw1YC74YV92yDGsHA4JNZVl6JB0H21lxENKrkOF9MJx+doXHiEEfwNC3F7kf2QDd+3oyRcrrGZt9rhfRPQckUnYM495nfaQcHzTXyIySnY0s6PkwbgL4B44dQIDAQAB`,
  `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAkVOD39Rao7yBD5Msly74VCZzikzRV672cEkNEM6GB3wg15W7Nw9NxdzwlzBNB5fb/FXL3hd9m9djNkrd2fj6FG47dS4A9nK1b+KL7E+Yhh19MP1GKxz3cW8sTg516fpvvnvPKUcRyyIOxARvvhuvs7tza/I7VjIBQSHpBKuiFBkJ5yeVq3iRuiuVnNMut+MllVSEeLEoNCmDAvRI7tTKXtlap1sPXb93D0x2LnzlNx/5jKSorQo2nPS4iwE8UPBGE6TRMr3ap9bjTG9tP0kEsHuM/OWBF1whlCvb/88BmE0x6v22i6ss3q/mkVt1bH0R+pgLaiRakJW7Zsgpa+sxPQIDAQAB`,
];
const goodPem = [
  `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtA+5PaMwafUZVIU0kXo+u3EbF45Sw+11yOuYReWxp5dGLCmqk6Ukq+PvZ9Ygq7xrOQzuUx/dY1rFqB0tz3Z4KurqpK/aVwj+nEhRckEAtbls9qeGcMxdTgPvf8KJbjR6gw0jXdQKeLTIojXNtUSFPpOm0tsAT0SAqGHZF9jFzBOHlpyyhiWvtZpZaUQMXRQwoptaHug7tPBjZHm3n+baJH8TVua9Kx8zVsrGBzZnGh7Ybap9ZxvNg2m0BMi/jMhoNr7c3eQBrrkcxqrb0GIdHbg94w9W7Ds3v01FPb6qjKbW8Z2ZAm1lGM/3imodT8z3hLXYDUGWXUTGuaRWWKr8+QIDAQAB`,
  `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwYtbVJUsNAQL//ijcypwo40yK5QLJuOvwVnVSy7Q6MVlmaSv4ZQyVR5QJf2kAbBVIFK7xogMW474R9TTyvL+iWjIpdYWF5OILlYBp/dcwqqic1ZZQnUL9ACsProq1b1kaBmpQegwD38O1F64eOPk3GdjJo8/vQLuVfK1wFq90VnyszDuvP1PXo7g91jrwIeeqQ14+J1vYmTI8qpodNJEVDlfQbaQB0DtSDcNcVLQCumKYSU1+8P8fSqve7TRBJtRjBXg/aliF1+twJ+ROFaJYo87+pJ2Leh/L1+KqZHxPnGpCoZKKX1nqpmqy4MnE1qE37ACYEcPauI7oMFYXmohbwIDAQAB`,
  `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1p2IZ0HNzhtIJ4PSRe+AmAZ9PJj4ufBmu9yZd2DgXoWQJjYnSBC1E93KUr3Kdrywpi1OqUe5XhMjIJIIiykK7QuKbcWNEjPPMHFPi8Jw6HGToZZT/IfAJib3pY9FcmzNWyU176Zxx6HamoHUhnhpE4gvK2h9dwpG7pejhk61lgUqQ20RIAsKa83rsLdkb2gthorVdzWd2zMO1mZc/qglI6xQc9yMwMpEDg2LpEq8FHpDvCqNAtdk7y4keXyMYQ+9Gz4OOGlhD7Q5KsIAXTeUQDetJfwQwYq+tHrt7PfoBhFxV1iIvSDzfy5GtrotcDgEXsktLt14zRSmzv2R/svvzQIDAQAB`,
];
const rocaMod03 =
  0x9dcd7420e420c270a68060eb8b5aa7457a9f6648f86fafed2775cc1f79ae962f1e63f1b9e51c55f9ea6fdc7332e9b0058c9ff2eb1fc89855029cf6aafe21e689feb38ac9ffb12f1ce371bb5d0e9aae64161abce74b4244bf68f1edb4411f756a097c8929c14740245ea355f8332d1aa36bb50c7dcb4505da8de02e4e53d38f8df06097da7524df0df93db48eac8cc4af2d3a16257eb2b2adca6ba464e5974fa92550d31b1babf161e7692d00b86e3dd886ecab4abfbe1a8f8cc263ff4af55cdb45f4249a5193925f5e983d762f0b6800943eb0267b08f42ed311ce1f5c86eacbc8ce4d3cb7a2fee1ef5641423a1cf4114e5ecf50034a60a412523af9e6f4aa11n;
const fakeMods = [
  72414128973967872688332736535017614208620368242015797102796086827882754006260204061799547004983731426777596445658889886861027045033760014948048067467947960318205453778973975867532910489227970143091184725760290172935872752222320334100097730483600892686353719855397381316384244147860260153198611313067061116317n,
  138345973265163614694352477004469191286459111070564516299381495188624946671065451924677704628892476011773201612117597303315530745738015579159106259811204610647347662150159814774894784524366138220226431598991937057442020694466365850170057813627445465881816985939192840583168136876337135351417253708364245923133n,
  60828061238058485055546209519792949600733446820687109700021551748017165461584398468231416589035982737511901116540885252089750919566836183252857475484338913841291095222387779067564971983760619814471104385614285949705697261702933899278537712383849527252611987939947273446907728942539157463443880598175266703887n,
];

const randomModulus = (): bigint => {
  const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
  return BigInt(`0x${Buffer.from(String(jwk.n), "base64url").toString("hex")}`);
};

describe("weak-keys", () => {
  it("finds the ROCA fingerprint in keys from vulnerable Infineon chips (public test vectors)", () => {
    for (const [i, pem] of rocaPem.entries()) assert.equal(hasRocaFingerprint(modulusOf(pem)), true, `rocacheck bad[${i}]`);
    assert.equal(hasRocaFingerprint(rocaMod03), true, "roca mod03");
    assert.equal(weakRsaModulus(modulusOf(rocaPem[0]!)), "roca");
  });

  it("does not flag ordinary keys, nor the 'fake' moduli that only pass the per-prime filter", () => {
    for (const [i, pem] of goodPem.entries()) assert.equal(hasRocaFingerprint(modulusOf(pem)), false, `rocacheck good[${i}]`);
    for (const [i, n] of fakeMods.entries()) {
      assert.equal(passesRocaResidueFilter(n), true, `fake mod ${i} passes the per-prime filter`);
      assert.equal(hasRocaFingerprint(n), false, `fake mod ${i}`);
    }
    for (let i = 0; i < 5; i++) assert.equal(weakRsaModulus(randomModulus()), null);
  });

  it("finds small prime factors below 752 (Boulder's bound), an even modulus included", () => {
    for (const p of [2n, 3n, 5n, 743n, 751n]) {
      const n = smallFactorModulus(p);
      const found = smallPrimeFactor(n);
      assert.ok(found !== undefined && found <= Number(p) && n % BigInt(found) === 0n, `factor ${p}`);
      assert.equal(weakRsaModulus(n), "small-factor", `factor ${p}`);
    }
    assert.equal(smallPrimeFactor(751n * 751n), 751);
    assert.equal(smallPrimeFactor(757n * 761n), undefined, "primes above the bound are not tried");
    assert.equal(smallPrimeFactor(randomModulus()), undefined);
  });

  it("factors a modulus whose primes are too close (Fermat), and only within its rounds", () => {
    const n = closePrimeModulus();
    const p = fermatFactor(n, FERMAT_ROUNDS);
    assert.ok(p !== undefined && n % p === 0n && p > 1n && p < n);
    assert.equal(weakRsaModulus(n), "close-factors");
    assert.equal(fermatFactor(randomModulus(), FERMAT_ROUNDS), undefined);
  });

  it("costs well under a millisecond per RSA-2048 key", () => {
    const keys = Array.from({ length: 5 }, randomModulus);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) weakRsaModulus(keys[i % keys.length]!);
    const perKeyUs = Number(process.hrtime.bigint() - start) / 200 / 1000;
    assert.ok(perKeyUs < 3000, `${perKeyUs.toFixed(0)} µs per key`);
    console.log(`      weakRsaModulus: ${perKeyUs.toFixed(0)} µs per RSA-2048 key`);
  });

  it("isqrt is the floor square root", () => {
    for (const x of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, (1n << 2048n) - 1n, 12345678901234567890n ** 4n + 1n]) {
      const s = isqrt(x);
      assert.ok(s * s <= x && (s + 1n) * (s + 1n) > x, String(x));
    }
  });
});
