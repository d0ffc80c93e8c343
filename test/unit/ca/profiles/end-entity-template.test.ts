import assert from "node:assert/strict";
import { buildEndEntityTbsReference, type SigningPersonalData } from "../../../../ca/profiles/end-entity-certificate.js";
import { EndEntityTemplate, type EndEntityVariableFields } from "../../../../ca/profiles/end-entity-template.js";
import { CaError } from "../../../../ca/errors.js";
import { prefectureNames } from "../../../../ca/residents/municipality.js";
import { partitionOf } from "../../../../ca/issuance/serial.js";
import { generateSubjectId } from "../../../../ca/profiles/subject-id.js";
import type { KeySpec } from "../../../../ca/types.js";
import { elementContent, readChildren, readWhole } from "../../../../ca/x509/der-reader.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";
import { makeTestCa, samplePersonal, SeededRandom, templateContext, type TestCa } from "../../../support/end-entity-fixtures.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

/** Characters of each UTF-8 width: ASCII, Latin-1, full-width (JIS X 0208-like), astral (4 bytes). */
const byWidth: Record<1 | 2 | 3 | 4, readonly string[]> = {
  1: ["A", "z", "5", "-"],
  2: ["é", "ß", "Ω"],
  3: ["山", "田", "　", "ー", "東", "４", "（"],
  4: ["𠮷", "𩸽"],
};

/** A string of exactly `bytes` UTF-8 octets, random mix of widths. */
function textOfBytes(rng: SeededRandom, bytes: number): string {
  let out = "";
  let left = bytes;
  while (left > 0) {
    const width = rng.pick(([4, 3, 3, 3, 2, 1] as const).filter((w) => w <= left));
    out += rng.pick(byWidth[width]);
    left -= width;
  }
  return out;
}

/** Lengths around the DER length-octet boundaries (127/128, 255/256) of the string and its wrappers. */
const boundaryLengths = [1, 2, 3, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258, 600];
const textLength = (rng: SeededRandom): number => (rng.next() < 0.6 ? rng.pick(boundaryLengths) : rng.int(1, 700));

function personalData(rng: SeededRandom): SigningPersonalData {
  const name = textOfBytes(rng, textLength(rng));
  const address = textOfBytes(rng, textLength(rng));
  const flags = (s: string): string => Array.from(s, () => (rng.next() < 0.1 ? "1" : "0")).join("");
  return {
    name,
    nameSubstituteFlags: flags(name),
    gender: rng.pick(["1", "2", "3"] as const),
    dateOfBirth: `${rng.int(0, 5)}${rng.int(1900, 2025)}${String(rng.int(1, 12)).padStart(2, "0")}${String(rng.int(1, 28)).padStart(2, "0")}`,
    address,
    addressSubstituteFlags: flags(address),
  };
}

/** Serials of 1–20 octets with various leading octets, including a 0x00 pad before a high octet. */
function serial(rng: SeededRandom): string {
  const length = rng.pick([1, 2, 8, 9, 16, 16, 16, 19, 20]);
  const bytes = rng.bytes(length);
  const lead = rng.pick(["01", "7f", "pad", "random"] as const);
  if (lead === "pad" && length >= 2) {
    bytes[0] = 0;
    bytes[1] = 0x80 | bytes[1]!;
  } else {
    bytes[0] = lead === "01" ? 1 : lead === "7f" ? 0x7f : rng.int(1, 0x7f);
  }
  return hex(bytes);
}

function instant(rng: SeededRandom, fromYear: number, toYear: number): Date {
  const from = Date.UTC(fromYear, 0, 1);
  return new Date(from + Math.floor(rng.next() * (Date.UTC(toYear, 0, 1) - from)));
}

/** notAfter on both sides of the UTCTime/GeneralizedTime switch (RFC 5280 §4.1.2.5). */
function notAfter(rng: SeededRandom, notBefore: Date): Date {
  const edge = rng.pick(["2049-12-31T23:59:59.999Z", "2050-01-01T00:00:00Z", "2050-01-01T00:00:00.999Z", null, null, null] as const);
  if (edge) return new Date(edge);
  const d = rng.next() < 0.5 ? instant(rng, 2030, 2049) : instant(rng, 2050, 2070);
  return d < notBefore ? notBefore : d;
}

function locality(rng: SeededRandom): { prefecture: string; municipality: string } {
  const municipality = rng.pick([
    () => String(rng.int(100000, 479999)),
    () => rng.pick(["Shinjuku-ku", "Kiyose-shi", "Naha-shi", "Sapporo-shi Chuo-ku"]),
    () => "新宿区",
    () => "A".repeat(rng.int(100, 128)),
  ])();
  return { prefecture: rng.pick(prefectureNames), municipality };
}

describe("ca/end-entity-template: byte-identical to the reference builder", function () {
  this.timeout(120_000);
  const keys: { label: string; spki: Uint8Array }[] = [];
  const templates: { label: string; template: EndEntityTemplate }[] = [];
  let cas: TestCa[];

  before(async () => {
    const specs: [string, KeySpec][] = [
      ["RSA-2048", { type: "rsa", bits: 2048 }],
      ["RSA-2048", { type: "rsa", bits: 2048 }],
      ["P-256", { type: "ec", curve: "P-256" }],
      ["P-256", { type: "ec", curve: "P-256" }],
      ["P-384", { type: "ec", curve: "P-384" }],
      ["P-384", { type: "ec", curve: "P-384" }],
    ];
    for (const [label, spec] of specs) keys.push({ label, spki: MemorySigner.generate(spec).publicKey });
    cas = [
      await makeTestCa("sign"),
      await makeTestCa("auth"),
      await makeTestCa("sign", { type: "ec", curve: "P-384" }),
      await makeTestCa("auth", { type: "ec", curve: "P-384" }),
    ];
    for (const ca of cas) {
      for (const aia of [true, false]) {
        for (const partitionCount of [64, 1000]) {
          // The smartphone profile (docs/phone.md): the card's plus a subject marker before the CN and its own policy OID.
          for (const phone of [false, true]) {
            const overrides = { ...(aia ? {} : { ocspUrl: null }), ...(phone ? { subjectMarker: [{ type: "OU", value: "phone" }], policy: { oid: "1.2.392.200149.8.5.1.99" } } : {}) };
            templates.push({
              label: `${ca.kind} CA ${ca.signer.algorithm}, AIA ${aia ? "on" : "off"}, ${partitionCount} partitions${phone ? ", phone" : ""}`,
              template: EndEntityTemplate.for(templateContext(ca, { partitionCount, overrides })),
            });
          }
        }
      }
    }
  });

  it("for 400 generated certificates (both kinds, RSA/P-256/P-384 keys, lengths across 127/128/255/256, 2050, partitions, serials, AIA on/off)", () => {
    const rng = new SeededRandom(0x5eed_2026);
    const seen = { utc: 0, generalized: 0, sign: 0, auth: 0, lengthBoundary: 0, pad: 0, phone: 0 };
    for (let i = 0; i < 400; i++) {
      const { label, template } = rng.pick(templates);
      const key = rng.pick(keys);
      const serialHex = serial(rng);
      const partition = rng.next() < 0.5 ? partitionOf(serialHex, template.partitionCount) : rng.pick([0, 9, 10, 63, rng.int(0, template.partitionCount - 1)]);
      const notBefore = instant(rng, 2020, 2049);
      const v: EndEntityVariableFields = {
        serialHex,
        partition: Math.min(partition, template.partitionCount - 1),
        notBefore,
        notAfter: notAfter(rng, notBefore),
        subjectId: generateSubjectId(rng),
        subjectPublicKey: key.spki,
        ...(template.profile.kind === "sign" ? { locality: locality(rng), personal: personalData(rng) } : {}),
      };
      const fast = template.tbs(v);
      const reference = buildEndEntityTbsReference(template.referenceFields(v));
      if (hex(fast) !== hex(reference)) {
        assert.fail(`case ${i} (${label}, ${key.label}, serial ${serialHex}): template and reference differ\n${hex(fast)}\n${hex(reference)}`);
      }
      // Coverage bookkeeping, so a generator change cannot silently stop exercising a branch.
      seen[template.profile.kind]++;
      if (template.profile.subjectMarker) seen.phone++;
      if (v.notAfter.getUTCFullYear() >= 2050) seen.generalized++;
      else seen.utc++;
      if (serialHex.startsWith("00")) seen.pad++;
      if (v.personal && [127, 128, 255, 256].includes(utf8Length(v.personal.name))) seen.lengthBoundary++;
    }
    assert.ok(seen.sign > 100 && seen.auth > 100, JSON.stringify(seen));
    assert.ok(seen.utc > 50 && seen.generalized > 50, JSON.stringify(seen));
    assert.ok(seen.lengthBoundary > 5 && seen.pad > 10, JSON.stringify(seen));
    assert.ok(seen.phone > 100, JSON.stringify(seen));
  });

  it("writes UTCTime through 2049 and GeneralizedTime from 2050, to the second (RFC 5280 §4.1.2.5)", () => {
    const t = templates.find((x) => x.template.profile.kind === "auth")!.template;
    const validity = (nb: string, na: string): [number, string][] => {
      const tbs = t.tbs({ serialHex: "01", partition: 0, notBefore: new Date(nb), notAfter: new Date(na), subjectId: "0123456789ABCDEF01234567", subjectPublicKey: keys[0]!.spki });
      const fields = readChildren(tbs, readWhole(tbs));
      const times = readChildren(tbs, fields[4]!);
      return times.map((e) => [e.tag, Buffer.from(elementContent(tbs, e)).toString("latin1")]);
    };
    assert.deepEqual(validity("2049-12-31T23:59:59.999Z", "2050-01-01T00:00:00.5Z"), [
      [0x17, "491231235959Z"],
      [0x18, "20500101000000Z"],
    ]);
    assert.deepEqual(validity("1999-06-01T00:00:00Z", "2031-02-17T14:59:59Z"), [
      [0x17, "990601000000Z"],
      [0x17, "310217145959Z"],
    ]);
  });

  it("caches the CRL DP per partition and refuses a partition outside the generation", () => {
    const t = templates.find((x) => x.template.profile.kind === "auth" && x.template.partitionCount === 64)!.template;
    const v = { serialHex: "01", notBefore: new Date("2026-01-01Z"), notAfter: new Date("2031-01-01Z"), subjectId: "0123456789ABCDEF01234567", subjectPublicKey: keys[0]!.spki };
    const a = t.tbs({ ...v, partition: 7 });
    assert.ok(Buffer.from(a).includes(Buffer.from("/crl/auth-g1/7.crl")));
    assert.deepEqual(t.tbs({ ...v, partition: 7 }), a);
    for (const partition of [-1, 64, 1.5, Number.NaN]) {
      assert.throws(() => t.tbs({ ...v, partition }), CaError);
    }
  });

  describe("refuses what the reference refuses", () => {
    const base = (t: EndEntityTemplate): EndEntityVariableFields => ({
      serialHex: "01a2",
      partition: 0,
      notBefore: new Date("2026-01-01T00:00:00Z"),
      notAfter: new Date("2031-01-01T00:00:00Z"),
      subjectId: "0123456789ABCDEF01234567",
      subjectPublicKey: keys[0]!.spki,
      ...(t.profile.kind === "sign" ? { locality: { prefecture: "Tokyo", municipality: "Shinjuku-ku" }, personal: samplePersonal } : {}),
    });
    const cases: [string, (v: EndEntityVariableFields) => EndEntityVariableFields][] = [
      ["a negative serial", (v) => ({ ...v, serialHex: "80" })],
      ["a serial with a redundant 00", (v) => ({ ...v, serialHex: "0001" })],
      ["a zero serial", (v) => ({ ...v, serialHex: "00" })],
      ["a serial over 20 octets", (v) => ({ ...v, serialHex: "01".repeat(21) })],
      ["upper-case serial hex", (v) => ({ ...v, serialHex: "0A" })],
      ["notAfter before notBefore", (v) => ({ ...v, notAfter: new Date("2025-12-31T23:59:59Z") })],
      ["a lower-case subject id", (v) => ({ ...v, subjectId: "abcdef0123456789" })],
      ["a garbled SPKI", (v) => ({ ...v, subjectPublicKey: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00) })],
      ["an empty name", (v) => ({ ...v, personal: v.personal && { ...v.personal, name: "", nameSubstituteFlags: "" } })],
      ["flags of the wrong length", (v) => ({ ...v, personal: v.personal && { ...v.personal, addressSubstituteFlags: "0" } })],
      ["gender 9", (v) => ({ ...v, personal: v.personal && { ...v.personal, gender: "9" as "1" } })],
      ["a date of birth that is not EYYYYMMDD", (v) => ({ ...v, personal: v.personal && { ...v.personal, dateOfBirth: "1980-02-17" } })],
      ["a control character in the address", (v) => ({ ...v, personal: v.personal && { ...v.personal, address: "東京\n都", addressSubstituteFlags: "0000" } })],
    ];
    for (const [what, mutate] of cases) {
      it(`refuses ${what} (signing: template and reference)`, () => {
        const t = templates.find((x) => x.template.profile.kind === "sign")!.template;
        const v = mutate(base(t));
        assert.throws(() => t.tbs(v), CaError);
        assert.throws(() => buildEndEntityTbsReference(t.referenceFields(v)), CaError);
      });
    }

    it("refuses personal data or a locality on a user-authentication certificate, in both", () => {
      const t = templates.find((x) => x.template.profile.kind === "auth")!.template;
      for (const extra of [{ personal: samplePersonal }, { locality: { prefecture: "Tokyo", municipality: "Shinjuku-ku" } }]) {
        const v = { ...base(t), ...extra };
        assert.throws(() => t.tbs(v), CaError);
        assert.throws(() => buildEndEntityTbsReference(t.referenceFields(v)), CaError);
      }
    });

    it("refuses a signing certificate without its personal data or locality", () => {
      const t = templates.find((x) => x.template.profile.kind === "sign")!.template;
      assert.throws(() => t.tbs({ ...base(t), personal: null }), /personal data is required/);
      assert.throws(() => t.tbs({ ...base(t), locality: null }), /locality is required/);
    });

    it("refuses a profile of the other kind or a bad partition count", () => {
      const [sign] = cas;
      const ctx = templateContext(sign!);
      assert.throws(() => EndEntityTemplate.for({ ...ctx, caId: "auth-g1" }), CaError);
      assert.throws(() => EndEntityTemplate.for({ ...ctx, partitionCount: 0 }), CaError);
    });
  });
});
