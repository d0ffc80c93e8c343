import * as pkijs from "pkijs";
import { CaError } from "../../ca/errors.js";
import type { AuthorityResolver } from "../../ca/issuance/issuing-authority.js";
import type { Signer } from "../../ca/ports.js";
import type { CaGeneration, CaId } from "../../ca/types.js";
import { buildAuthorities } from "./issuing-authorities.js";
import type { Service, ServiceWith } from "./service.js";

/** What the live generations need: the token, the generation store, the public base URL, a logger. */
export type LiveCaGenerationDeps = ServiceWith<"hsm" | "logger", "caGenerations"> & { readonly config: Pick<Service["config"], "publicBaseUrl"> };

/**
 * docs/design.md invariant 5 / Boulder's LoadIssuer: the signer of an active CA generation, after checking that
 * the key in the token is the one its certificate certifies (a swapped token, a restored backup of the
 * wrong CA, a tampered database are refused).
 */
export async function checkedCaSigner(service: Pick<Service, "hsm">, ca: CaGeneration): Promise<Signer> {
  const signer = await service.hsm.signer(ca.keyUri, ca.signatureAlgorithm).catch((e: unknown) => {
    throw new CaError("unavailable", `CA ${ca.id}: its key is not in the token (${(e as Error).message})`);
  });
  const cert = pkijs.Certificate.fromBER(ca.certificate.slice().buffer);
  const certSpki = new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
  if (Buffer.compare(Buffer.from(certSpki), Buffer.from(signer.publicKey)) !== 0) {
    throw new CaError("internal", `CA ${ca.id}: the key in the token does not match the CA certificate; refusing to start`);
  }
  return signer;
}

/**
 * docs/design.md invariant 5 / Boulder's LoadIssuer: the checked signer of every active generation; refuses
 * (throws) when a CA key in the token does not match its certificate.
 */
export async function checkCaKeys(service: ServiceWith<"hsm", "caGenerations">, generations?: readonly CaGeneration[]): Promise<Map<CaId, Signer>> {
  const signers = new Map<CaId, Signer>();
  for (const ca of generations ?? (await service.stores.caGenerations.list())) if (ca.status === "active") signers.set(ca.id, await checkedCaSigner(service, ca));
  return signers;
}

/** Told of a generation taken into use while running, with its checked signer. */
export type GenerationAdded = (ca: CaGeneration, signer: Signer) => Promise<void>;

/**
 * The CA generations this process issues with, and publishes CRLs and OCSP answers for, taken into use
 * while it runs: a generation made by an approved request (in this process or another worker) is used
 * from the next `refresh` on — right after the request is executed here, within `pollMs` elsewhere —
 * without a restart, its key checked against its certificate first, as at start-up. New issuance goes
 * to the newest active generation of its kind (api/wiring/issuing-authorities.ts); older generations keep
 * their CRLs and OCSP answers for the certificates they issued.
 */
export class LiveCaGenerations {
  private resolver: AuthorityResolver;
  private readonly added: GenerationAdded[] = [];
  private refreshing: Promise<CaGeneration[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves through whatever generations are current (IssuanceService keeps this one object). */
  readonly authorities: AuthorityResolver = {
    active: (kind) => this.resolver.active(kind),
    byCaId: (caId) => this.resolver.byCaId(caId),
  };

  private constructor(
    private readonly service: LiveCaGenerationDeps,
    private generations: readonly CaGeneration[],
    /** The checked signers by generation; grows in place as generations are added. */
    readonly signers: Map<CaId, Signer>,
  ) {
    this.resolver = this.build();
  }

  /** Every active generation's key checked (refusing to start on a mismatch), as at start-up. */
  static async load(service: LiveCaGenerationDeps): Promise<LiveCaGenerations> {
    const generations = await service.stores.caGenerations.list();
    return new LiveCaGenerations(service, generations, await checkCaKeys(service, generations));
  }

  get current(): readonly CaGeneration[] {
    return this.generations;
  }

  /** `f` is called for each generation taken into use from now on (CRL scheduler, OCSP responders). */
  onAdded(f: GenerationAdded): this {
    this.added.push(f);
    return this;
  }

  /**
   * Reads the generations again and takes new active ones into use. A generation whose key fails the
   * check, or whose CRLs or OCSP responder cannot be set up, is left out (and logged by id) while the
   * others go on; the next refresh tries it again. @returns the generations added
   */
  refresh(): Promise<CaGeneration[]> {
    if (this.refreshing) return this.refreshing.then(() => this.refresh());
    const p = this.load().finally(() => {
      if (this.refreshing === p) this.refreshing = undefined;
    });
    this.refreshing = p;
    return p;
  }

  /** Refreshes every `pollMs` on an unref'd timer (picks up what another process made). */
  start(pollMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((e: unknown) => this.service.logger.error({ err: (e as Error)?.name }, "CA generation refresh failed"));
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async load(): Promise<CaGeneration[]> {
    const generations = await this.service.stores.caGenerations.list();
    const added: CaGeneration[] = [];
    for (const ca of generations) {
      if (ca.status !== "active" || this.signers.has(ca.id)) continue;
      try {
        const signer = await checkedCaSigner(this.service, ca);
        // CRL partitions and the OCSP responder first: no certificate of the generation is issued
        // before they can answer for it. A failure leaves it out until the next refresh tries again.
        for (const f of this.added) await f(ca, signer);
        this.signers.set(ca.id, signer);
        added.push(ca);
        this.service.logger.info({ caId: ca.id }, "CA generation taken into use");
      } catch (e) {
        this.service.logger.error({ caId: ca.id, err: (e as Error)?.name, message: (e as Error)?.message }, "a new CA generation was not taken into use");
      }
    }
    this.generations = generations;
    this.resolver = this.build();
    return added;
  }

  private build(): AuthorityResolver {
    return buildAuthorities(this.generations, this.signers, { publicBaseUrl: this.service.config.publicBaseUrl });
  }
}
