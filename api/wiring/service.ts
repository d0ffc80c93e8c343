import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes, webcrypto } from "node:crypto";
import * as pkijs from "pkijs";
import { CaError } from "../../ca/errors.js";
import { systemClock, type Clock, type Random } from "../../ca/ports.js";
import type { ServiceCaMaterial } from "../../ca/operators/terminal-registry.js";
import { defaultAlgorithm } from "../../ca/profiles/algorithms.js";
import { RelyingPartyRegistry } from "../../ca/relying-parties/relying-party.js";
import { fromPem } from "../../ca/x509/pem.js";
import { publicKeySpec } from "../../ca/x509/public-key.js";
import { KnexAuditStore } from "../../db/audit-store.js";
import { KnexCaGenerationStore } from "../../db/ca-generation-store.js";
import { KnexCertificateStore } from "../../db/certificate-store.js";
import { KnexCertificateLinkStore } from "../../db/certificate-link-store.js";
import { KnexClientCertificateStore } from "../../db/client-certificate-store.js";
import { openDatabase, type Database } from "../../db/database.js";
import { KnexIssuanceStore, KnexResidentStore } from "../../db/issuance-store.js";
import { migrateLatest } from "../../db/migrate.js";
import { KnexOperatorSessionStore } from "../../db/operator-session-store.js";
import { KnexOperatorStore } from "../../db/operator-store.js";
import { KnexOutboxStore } from "../../db/outbox-store.js";
import { KnexRelyingPartyStore } from "../../db/relying-party-store.js";
import { KnexTerminalStore } from "../../db/terminal-store.js";
import { Pkcs11Hsm } from "../../hsm/pkcs11-hsm.js";
import type { Config } from "../config.js";
import { createLogger, type Logger } from "../logger.js";
import { Metrics } from "../metrics.js";

/**
 * The opened service: the adapters built once from the configuration (database migrated, HSM token
 * open, the stores over the database) that every feature's wiring draws on. The composition root
 * (api/main.ts) and the CLI hold it; each feature's `build…` in api/wiring/ takes only the part it
 * needs (a `Pick<Service, …>`), never the whole object. Everything is per instance; nothing is a
 * module global.
 */
export interface Service {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly hsm: Pkcs11Hsm;
  readonly clock: Clock;
  readonly random: Random;
  readonly crypto: pkijs.CryptoEngine;
  readonly stores: ServiceStores;
  /** Registered relying parties (CRL/OCSP access in `registered` mode). */
  readonly relyingParties: RelyingPartyRegistry;
  /** The internal service CA (key in the token, certificate under var/tls); throws before `init` made it. */
  readonly serviceCa: ServiceCaMaterial;
  /** Called by the ceremony once it made or found the service CA. */
  setServiceCa(material: ServiceCaMaterial): void;
  close(): Promise<void>;
}

/** The knex stores every process opens (features open their other stores themselves). */
export interface ServiceStores {
  readonly caGenerations: KnexCaGenerationStore;
  readonly certificates: KnexCertificateStore;
  /** The certificate linkage graph (issue #16 item 2, docs/linkage.md). */
  readonly certificateLinks: KnexCertificateLinkStore;
  readonly audit: KnexAuditStore;
  readonly issuances: KnexIssuanceStore;
  readonly residents: KnexResidentStore;
  readonly outbox: KnexOutboxStore;
  readonly operators: KnexOperatorStore;
  readonly operatorSessions: KnexOperatorSessionStore;
  readonly terminals: KnexTerminalStore;
  readonly relyingParties: KnexRelyingPartyStore;
  /** Admin-workstation and feed client certificates (issue 12 item 2). */
  readonly clientCertificates: KnexClientCertificateStore;
}

/** A part of the Service with only some of its stores: what a feature's wiring asks for. */
export type ServiceWith<K extends keyof Omit<Service, "stores">, S extends keyof ServiceStores = never> = Pick<Service, K> & { readonly stores: Pick<ServiceStores, S> };

export const systemRandom: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

/** Label of the service CA's key in the token (made by the ceremony, cli/ceremony.ts). */
const SERVICE_CA_KEY_LABEL = "service-ca";

/** Opens the database (migrated), the HSM and the stores. Used by `serve`, `init` and the other CLI commands. */
export async function openService(config: Config, options: { logger?: Logger; clock?: Clock } = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = new Metrics();
  // SoftHSM reads its configuration from SOFTHSM2_CONF when the module is initialised.
  if (config.hsm.softhsmConf) process.env.SOFTHSM2_CONF = config.hsm.softhsmConf;
  const db = await openDatabase(config.database.url ? { url: config.database.url } : { dataDir: config.database.dataDir });
  try {
    await migrateLatest(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  let hsm: Pkcs11Hsm;
  try {
    hsm = await Pkcs11Hsm.open({ modulePath: config.hsm.modulePath, tokenLabel: config.hsm.tokenLabel, pin: config.hsm.pin, poolSize: config.hsm.poolSize, metrics: metrics.hsm });
  } catch (e) {
    await db.close();
    throw e;
  }
  // pkijs's crypto engine is chosen here, once, and passed where pkijs verifies (never its global default).
  const crypto = new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: webcrypto as unknown as Crypto });
  const clock = options.clock ?? systemClock;
  const rpStore = new KnexRelyingPartyStore(db);
  const auditStore = new KnexAuditStore(db);
  let serviceCa: ServiceCaMaterial | undefined;
  const serviceCaFile = join(config.varDir, "tls", "service-ca.pem");
  const serviceCaKey = await hsm.findKey(SERVICE_CA_KEY_LABEL);
  if (serviceCaKey && existsSync(serviceCaFile)) {
    // The algorithm follows the key in the token (made as `hsm.serviceKeyType` said when `init` ran).
    serviceCa = { signer: await hsm.signer(serviceCaKey.uri, defaultAlgorithm(publicKeySpec(serviceCaKey.publicKey))), certificate: fromPem(await readFile(serviceCaFile, "utf8"), "CERTIFICATE") };
  }
  return {
    get serviceCa(): ServiceCaMaterial {
      if (!serviceCa) throw new CaError("unavailable", "the service CA does not exist yet: run `npm run cli -- init`");
      return serviceCa;
    },
    setServiceCa: (m) => {
      serviceCa = m;
    },
    config,
    logger,
    metrics,
    db,
    hsm,
    clock,
    random: systemRandom,
    crypto,
    stores: {
      caGenerations: new KnexCaGenerationStore(db),
      certificates: new KnexCertificateStore(db),
      certificateLinks: new KnexCertificateLinkStore(db),
      audit: auditStore,
      issuances: new KnexIssuanceStore(db),
      residents: new KnexResidentStore(db),
      outbox: new KnexOutboxStore(db),
      operators: new KnexOperatorStore(db),
      operatorSessions: new KnexOperatorSessionStore(db),
      terminals: new KnexTerminalStore(db),
      relyingParties: rpStore,
      clientCertificates: new KnexClientCertificateStore(db),
    },
    relyingParties: new RelyingPartyRegistry({ store: rpStore, audit: auditStore, transactions: db, clock, random: systemRandom }),
    close: async () => {
      await hsm.close();
      await db.close();
    },
  };
}
