import type Router from "@koa/router";
import type { SingletonJob } from "../../ca/cluster/lease-keeper.js";
import type { AuthorityResolver } from "../../ca/issuance/issuing-authority.js";
import { PhoneHolderActions, type PhoneHoldLifter } from "../../ca/phone/phone-actions.js";
import { phoneAuthorities } from "../../ca/phone/phone-authorities.js";
import { PhoneIssuanceService } from "../../ca/phone/phone-issuance-service.js";
import { endEntityProfile } from "../../ca/profiles/end-entity-profile.js";
import { createAliasFormatter } from "../../ca/residents/alias-format.js";
import { KnexPhoneHistory } from "../../db/phone-history-store.js";
import { KnexHolderRequestStore } from "../../db/holder-request-store.js";
import { KnexResidentMunicipalityStore } from "../../db/resident-municipality-store.js";
import type { OpenApiDocument } from "../openapi.js";
import { holderRoutes } from "../routes/holder.js";
import type { ServiceWith } from "./service.js";

/**
 * The holder's online routes (docs/phone.md): smartphone certificates applied for with a card signature,
 * and the holder's revocation, suspension and resumption of them. The phone authorities are the card's
 * CA generations in use (api/wiring/live-ca-generations.ts) with the phone profile; the lift of a phone
 * hold is the revocation service's (`liftPhoneHold`).
 */
export type HolderDeps = ServiceWith<"db" | "clock" | "random" | "config", "certificates" | "residents" | "audit" | "outbox" | "certificateLinks" | "clientCertificates">;

export interface HolderFeature {
  readonly phoneIssuance: PhoneIssuanceService;
  readonly phoneActions: PhoneHolderActions;
  readonly router: (openapi: OpenApiDocument) => Router;
}

/** @param cardAuthorities the card's issuing authorities in use; @param lifter the revocation service */
export function buildHolder(deps: HolderDeps, cardAuthorities: AuthorityResolver, lifter: PhoneHoldLifter): HolderFeature {
  const { db, clock, random, config, stores } = deps;
  const settings = config.phone;
  const holderRequests = new KnexHolderRequestStore(db);
  const verifier = { certificates: stores.certificates, audit: stores.audit, clock, signedAtToleranceMs: settings.signedAtToleranceMs };
  const authorities = phoneAuthorities(cardAuthorities, (a) => endEntityProfile(a.kind, { publicBaseUrl: config.publicBaseUrl }), settings);
  const phoneIssuance = new PhoneIssuanceService({
    ...verifier,
    random,
    transactions: db,
    residents: stores.residents,
    residentMunicipalities: new KnexResidentMunicipalityStore(db),
    outbox: stores.outbox,
    links: stores.certificateLinks,
    history: new KnexPhoneHistory(db),
    holderRequests,
    authorities,
    aliasFormatter: createAliasFormatter(),
  });
  const phoneActions = new PhoneHolderActions({ ...verifier, transactions: db, outbox: stores.outbox, holderRequests, lifter, settings });
  return { phoneIssuance, phoneActions, router: holderRoutes({ phoneIssuance, phoneActions, clients: stores.clientCertificates }) };
}

/** How often phone applications left pending by a crash are looked for (docs/design.md invariant 1). */
const PHONE_RECONCILE_EVERY_MS = 60_000;

/**
 * The phone applications' reconciler as a singleton job (docs/cluster.md: under its lease, in one process),
 * the counterpart of the issuance reconciler (api/wiring/job-leases.ts).
 */
export function phoneReconcilerJob(phoneIssuance: Pick<PhoneIssuanceService, "reconcile">, log: { warn(o: object, msg: string): void; error(o: object, msg: string): void }): SingletonJob {
  return {
    name: "phone-reconciler",
    start() {
      let running: Promise<void> | undefined;
      const reconcile = (): void => {
        running ??= phoneIssuance
          .reconcile()
          .then((r) => {
            if (r.completed + r.failed > 0) log.warn(r, "reconciled pending phone applications");
          })
          .catch((e: unknown) => log.error({ err: (e as Error).name }, "phone reconciler failed"))
          .finally(() => (running = undefined));
      };
      reconcile();
      const timer = setInterval(reconcile, PHONE_RECONCILE_EVERY_MS);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
      };
    },
  };
}
