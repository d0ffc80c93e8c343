/**
 * The issuance service (ca/issuance/issuance-service.ts) on in-memory ports, for its unit test: memory
 * stores that roll back together, two test CAs (user authentication, signing) with MemorySigner keys
 * behind EndEntityIssuer, a fixed clock, card-like RSA CSRs, and a hook on every HSM signature.
 */
import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import forge from "node-forge";
import { EndEntityIssuer } from "../../ca/issuance/end-entity-issuer.js";
import { IssuanceService, type IssuanceContext } from "../../ca/issuance/issuance-service.js";
import { issuingAuthority, type AuthorityResolver, type IssuingAuthority } from "../../ca/issuance/issuing-authority.js";
import { createAliasFormatter } from "../../ca/residents/alias-format.js";
import type { Clock } from "../../ca/ports.js";
import { caIdOf, type CaKind } from "../../ca/types.js";
import { fakeCaGeneration } from "./ca-generation-fixture.js";
import { makeTestCa, SeededRandom, templateContext } from "./end-entity-fixtures.js";
import { MemoryIssuanceStore, MemoryResidentStore } from "./memory-issuance-stores.js";
import { createMemoryStores } from "./memory-stores.js";

/** 2026-12-04 12:00 JST: "today" for applications is 2026-12-04. */
export const NOW = new Date("2026-12-04T03:00:00Z");
export const TODAY = "2026-12-04";
export const MUNICIPALITY = "131041";
export const OTHER_MUNICIPALITY = "131016";
export const RESIDENT_CODE = "12345678901";
const NAME = "山田　太郎";
const ADDRESS = "東京都新宿区歌舞伎町一丁目４番１号";

/** One card key pair and its PKCS#10 request (PEM), as a card's middleware sends it. */
export interface CardKey {
  readonly publicKey: KeyObject;
  readonly csr: string;
}

const generateRsa = promisify(generateKeyPair);

export async function cardKey(): Promise<CardKey> {
  const { publicKey, privateKey } = await generateRsa("rsa", { modulusLength: 2048 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  csr.setSubject([{ name: "commonName", value: "JPKI card" }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { publicKey, csr: forge.pki.certificationRequestToPem(csr) };
}

export function residentFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: NAME,
    nameSubstituteFlags: "0".repeat([...NAME].length),
    alias: null,
    dateOfBirth: "1980-02-17",
    gender: 1,
    address: ADDRESS,
    addressSubstituteFlags: "0".repeat([...ADDRESS].length),
    cardExpiry: "2036-12-31",
    residencePeriodEnd: null,
    underGuardianship: false,
    ...overrides,
  };
}

/** A POST /v1/issuances body (docs/api.md §4). */
export function application(
  requests: ReadonlyArray<{ kind: CaKind; key: CardKey | string }>,
  overrides: { residentCode?: string; municipalityCode?: string; resident?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    municipalityCode: overrides.municipalityCode ?? MUNICIPALITY,
    applicationDate: TODAY,
    residentCode: overrides.residentCode ?? RESIDENT_CODE,
    resident: overrides.resident ?? residentFields(),
    requests: requests.map((r) => ({ kind: r.kind, csr: typeof r.key === "string" ? r.key : r.key.csr })),
  };
}

let keyCounter = 0;
/** A terminal's request context with a fresh Idempotency-Key. */
export function context(overrides: Partial<IssuanceContext> = {}): IssuanceContext {
  return { terminalId: "terminal-1", operatorId: "operator-1", idempotencyKey: `key-${++keyCounter}`, municipalityCode: MUNICIPALITY, ...overrides };
}

/** Called with the TBS before every HSM signature; throw to fail the signature. */
export type SignHook = (kind: CaKind, tbs: Uint8Array) => Promise<void> | void;

export interface IssuanceWorld {
  readonly stores: ReturnType<typeof createMemoryStores>;
  readonly issuances: MemoryIssuanceStore;
  readonly residents: MemoryResidentStore;
  readonly service: IssuanceService;
  readonly clock: { now: () => Date; at: Date };
  /** The TBS of every signature asked of the HSM, in order. */
  readonly signed: Array<{ kind: CaKind; tbs: Uint8Array }>;
  onSign: SignHook | undefined;
}

/** A fresh world: empty stores, both CAs active, the clock at NOW. */
export async function issuanceWorld(): Promise<IssuanceWorld> {
  const stores = createMemoryStores();
  const issuances = new MemoryIssuanceStore(stores.db, stores.certificates);
  const residents = new MemoryResidentStore(stores.db);
  const clock: Clock & { at: Date } = { at: NOW, now: () => clock.at };
  const signed: Array<{ kind: CaKind; tbs: Uint8Array }> = [];
  const byId = new Map<string, IssuingAuthority>();
  const world: IssuanceWorld = { stores, issuances, residents, service: undefined as unknown as IssuanceService, clock, signed, onSign: undefined };
  for (const [kind, prefix] of [["auth", 0x21], ["sign", 0x22]] as const) {
    const ca = await testCa(kind);
    const generation = fakeCaGeneration(kind, 1, new Date("2026-01-05T00:00:00Z"), {
      certificate: ca.certificate,
      signatureAlgorithm: ca.signer.algorithm,
      keyAlgorithm: "P-256",
      serialPrefix: prefix,
      partitionCount: 64,
    });
    await stores.caGenerations.insert(generation);
    const issuer = EndEntityIssuer.create(templateContext(ca, { partitionCount: 64 }));
    // The hook sees every TBS before the CA key signs it; issuingAuthority then verifies and assembles.
    const hooked = {
      sign: async (tbs: Uint8Array) => {
        signed.push({ kind, tbs });
        await world.onSign?.(kind, tbs);
        return ca.signer.sign(tbs);
      },
    };
    byId.set(generation.id, issuingAuthority(generation, issuer, hooked));
  }
  const authorities: AuthorityResolver = {
    active: (kind: CaKind) => byId.get(caIdOf(kind, 1))!,
    byCaId: (caId: string) => byId.get(caId),
  };
  const service = new IssuanceService({
    clock,
    random: new SeededRandom(15),
    transactions: stores.db,
    certificates: stores.certificates,
    issuances,
    residents,
    audit: stores.audit,
    authorities,
    aliasFormatter: createAliasFormatter(),
    residentMunicipalities: residents,
  });
  return Object.assign(world, { service });
}

/** P-256 CA keys (fast to make), one pair per kind for the whole test run. */
const cas = new Map<CaKind, ReturnType<typeof makeTestCa>>();
function testCa(kind: CaKind): ReturnType<typeof makeTestCa> {
  let ca = cas.get(kind);
  if (!ca) cas.set(kind, (ca = makeTestCa(kind, { type: "ec", curve: "P-256" })));
  return ca;
}
