import { generateKeyPair as generateKeyPairCallback, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { certificateFingerprint } from "../operators/certificate-fingerprint.js";
import { CaError } from "../errors.js";
import { actorName, assertActorRole, type Actor } from "../operators/operator-principal.js";
import type { Clock, Random } from "../ports.js";
import { verifierFields, type RelyingParty, type RelyingPartyRegistry, type RelyingPartyStore, type VerifierRegistration } from "./relying-party.js";
import { buildClientCertificate } from "../operators/service-ca.js";
import type { AuditStore, TransactionRunner } from "../stores.js";
import type { ServiceCaMaterial } from "../operators/terminal-registry.js";
import type { RelyingPartyEnvironment, VerifierProfile, VerifierType } from "./verifier-types.js";

const generateKeyPair = promisify(generateKeyPairCallback);

export interface RelyingPartyCredentials {
  /** `Authorization: Bearer` key, shown once, stored as SHA-256 only. */
  readonly apiKey?: string;
  /** DER client certificate (OU=relying-party, CN=<id>) and its PKCS#8 key, handed over once. */
  readonly certificate?: Uint8Array;
  readonly privateKeyPkcs8?: Uint8Array;
  readonly certificateSerial?: string;
  readonly certificateFingerprint?: string;
}

/**
 * Registration of relying parties by the CA operator (docs/api.md §7 `POST /v1/admin/relying-parties`:
 * answers an API key and/or a client certificate; docs/domain.md §4: in JPKI only registered parties read
 * revocation data). The API key path is RelyingPartyRegistry's; a certificate-only party is stored
 * without a key hash, so no bearer key can ever match it. Deactivation stops both credentials (the
 * certificate path checks the party is active on every request).
 */
export class RelyingPartyEnrolment {
  constructor(
    private readonly deps: {
      readonly registry: Pick<RelyingPartyRegistry, "register" | "deactivate">;
      readonly store: Pick<RelyingPartyStore, "insert" | "get" | "profile" | "setVerifier" | "hasProviders">;
      /** The service CA; a function because it exists only after `init`. */
      readonly serviceCa: () => ServiceCaMaterial;
      readonly audit: Pick<AuditStore, "append">;
      readonly transactions: TransactionRunner;
      readonly clock: Clock;
      readonly random: Random;
    },
  ) {}

  async register(actor: Actor, input: { id: string; name: string; apiKey: boolean; certificate: boolean } & Partial<VerifierRegistration>): Promise<{ party: RelyingParty } & RelyingPartyCredentials> {
    assertActorRole(actor, "ca-operator");
    await this.checkPlatform(input);
    if (!input.apiKey && !input.certificate) throw new CaError("invalid-input", "a relying party needs an API key, a client certificate, or both", { field: "credentials" });
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(input.id)) throw new CaError("invalid-input", "must be 1–64 of [A-Za-z0-9._:-]", { field: "id" });
    if (input.name.length === 0 || input.name.length > 200) throw new CaError("invalid-input", "must be 1–200 characters", { field: "name" });
    const serviceCa = input.certificate ? this.deps.serviceCa() : undefined; // fail before registering
    let party: RelyingParty;
    let apiKey: string | undefined;
    if (input.apiKey) {
      ({ party, apiKey } = await this.deps.registry.register(actorName(actor), { id: input.id, name: input.name, ...verifierFields(input) }));
    } else {
      const now = this.deps.clock.now();
      party = { id: input.id, name: input.name, active: true };
      await this.deps.transactions.transaction(async (tx) => {
        await this.deps.store.insert({ ...party, apiKeySha256: null, createdAt: now, ...verifierFields(input) }, tx);
        await this.deps.audit.append({ at: now, action: "relying-party.registered", actor: actorName(actor), subject: `relying-party:${input.id}`, outcome: "success", detail: { name: input.name, apiKey: false, ...verifierFields(input) } }, tx);
      });
    }
    if (serviceCa === undefined) return { party, ...(apiKey ? { apiKey } : {}) };
    const cert = await this.issueCertificate(actor, input.id, serviceCa);
    return { party, ...(apiKey ? { apiKey } : {}), ...cert };
  }

  /**
   * A service provider acting through a platform operator (施行規則29条; docs/relying-parties.md): the
   * operator is registered, active, of type `platform`, in the same environment, and not itself a sub-party.
   */
  private async checkPlatform(input: Partial<VerifierRegistration>): Promise<void> {
    if (input.platformId === undefined || input.platformId === null) return;
    const platform = await this.deps.store.profile(input.platformId);
    if (!platform || !platform.active || !platform.types.includes("platform") || platform.platformId !== null) {
      throw new CaError("unprocessable", "platformId must name an active platform operator", { field: "platformId" });
    }
    if (platform.environment !== (input.environment ?? "production")) throw new CaError("unprocessable", "a service provider is registered in its platform operator's environment", { field: "environment" });
  }

  /**
   * Changes what a registered party is (docs/relying-parties.md "Registration": migration 0029 made every
   * earlier party signing + user-auth; narrowing it is this). A platform operator with service providers
   * keeps type `platform`, and a service provider stays in its platform's environment.
   */
  async changeVerifier(actor: Actor, id: string, input: { verifierTypes: readonly VerifierType[]; environment: RelyingPartyEnvironment }): Promise<VerifierProfile> {
    assertActorRole(actor, "ca-operator");
    const current = await this.deps.store.profile(id);
    if (!current) throw new CaError("not-found", "no such relying party");
    if (current.types.includes("platform") && !input.verifierTypes.includes("platform") && (await this.deps.store.hasProviders(id))) {
      throw new CaError("unprocessable", "this platform operator has service providers: it stays of type platform", { field: "verifierTypes" });
    }
    if (current.platformId !== null) await this.checkPlatform({ platformId: current.platformId, environment: input.environment });
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      if (!(await this.deps.store.setVerifier(id, input, tx))) throw new CaError("not-found", "no such relying party");
      await this.deps.audit.append(
        { at: now, action: "relying-party.verifier.changed", actor: actorName(actor), subject: `relying-party:${id}`, outcome: "success", detail: { from: { verifierTypes: [...current.types], environment: current.environment }, to: { verifierTypes: [...input.verifierTypes], environment: input.environment } } },
        tx,
      );
    });
    return { ...current, types: [...input.verifierTypes], environment: input.environment };
  }

  async deactivate(actor: Actor, id: string): Promise<void> {
    assertActorRole(actor, "ca-operator");
    await this.deps.registry.deactivate(actorName(actor), id);
  }

  private async issueCertificate(actor: Actor, id: string, serviceCa: ServiceCaMaterial): Promise<Required<Pick<RelyingPartyCredentials, "certificate" | "privateKeyPkcs8" | "certificateSerial" | "certificateFingerprint">>> {
    const { publicKey, privateKey } = (await generateKeyPair("ec", { namedCurve: "P-256" })) as { publicKey: KeyObject; privateKey: KeyObject };
    // Positive, no leading zero: the hex equals the serial the TLS layer reports (as for terminals).
    const octets = Uint8Array.from(this.deps.random.bytes(16));
    octets[0] = (octets[0]! & 0x3f) | 0x40;
    const serial = Buffer.from(octets).toString("hex");
    const now = this.deps.clock.now();
    const certificate = await buildClientCertificate({
      caCertificate: serviceCa.certificate,
      caSigner: serviceCa.signer,
      subjectPublicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
      serial: BigInt(`0x${serial}`),
      notBefore: now,
      role: "relying-party",
      id,
    });
    const fingerprint = certificateFingerprint(certificate);
    await this.deps.audit.append({ at: now, action: "relying-party.certificate.issued", actor: actorName(actor), subject: `relying-party:${id}`, outcome: "success", detail: { serial, fingerprint } });
    return { certificate, privateKeyPkcs8: new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" })), certificateSerial: serial, certificateFingerprint: fingerprint };
  }
}
