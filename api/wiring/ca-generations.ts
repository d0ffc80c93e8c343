import { defaultAlgorithm } from "../../ca/profiles/algorithms.js";
import { buildCaCertificate } from "../../ca/profiles/ca-certificate.js";
import { defaultCaProfiles, type CaProfile } from "../../ca/profiles/ca-profile.js";
import { CaError } from "../../ca/errors.js";
import { buildOcspResponderCertificate } from "../../ca/profiles/ocsp-responder-certificate.js";
import type { Random } from "../../ca/ports.js";
import type { ApprovalExecutor } from "../../ca/approvals/approval.js";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type Router from "@koa/router";
import type { Middleware } from "koa";
import type { OpenApiDocument } from "../openapi.js";
import { adminCaGenerationRoutes } from "../routes/admin-ca-generations.js";
import { caIdOf, type CaGeneration, type CaKind, type KeySpec } from "../../ca/types.js";
import type { Config } from "../config.js";
import type { Service, ServiceWith } from "./service.js";

/**
 * CA generations (docs/domain.md §2: a new key and self-signed certificate every ~4 years, all generations of a
 * kind sharing one DN): created by the key ceremony (`init`, generation 1), by
 * `npm run cli -- ca generation new KIND`, and by an approved `POST /v1/admin/ca/{kind}/generations`
 * (docs/api.md §7: CA administrator, approved by a security officer). A new generation is recorded active;
 * issuance moves to it when the service next starts (rolling restart), while CRLs and OCSP keep serving
 * every generation.
 */
type Log = (line: string) => void;

/**
 * What making a CA generation needs: the token, the CA settings, the key type of the OCSP responder key
 * (`hsm.serviceKeySpec`), the generation and audit stores.
 */
export type CaGenerationDeps = ServiceWith<"hsm" | "db" | "clock" | "random", "caGenerations" | "audit"> & {
  readonly config: { readonly ca: Config["ca"]; readonly hsm: Pick<Config["hsm"], "serviceKeySpec"> };
};

/** Serial prefix byte of a CA generation (docs/design.md invariant 2): sign-gN → N, auth-gN → 64 + N. */
export const serialPrefixOf = (kind: CaKind, generation: number): number => (kind === "sign" ? 0 : 64) + generation;

export function profileFor(service: { readonly config: { readonly ca: Config["ca"] } }, kind: CaKind): CaProfile {
  const keySpec = service.config.ca.keySpec;
  return { ...defaultCaProfiles[kind], keySpec, signatureAlgorithm: defaultAlgorithm(keySpec), ocspResponderValidityDays: service.config.ca.ocspResponderValidityDays };
}

/** A key in the token by label: the one already there (resumed ceremony) or a new one. */
export async function tokenKey(service: Pick<Service, "hsm">, label: string, spec: KeySpec, log: Log): Promise<{ uri: string; publicKey: Uint8Array }> {
  const found = await service.hsm.findKey(label);
  if (found) {
    log(`  key ${label}: already in the token, reused`);
    return found;
  }
  const made = await service.hsm.generateKey(label, spec);
  log(`  key ${label}: generated in the token (sensitive, non-extractable)`);
  return made;
}

/** A random positive serial for ceremony certificates: 15 CSPRNG octets behind a 0x01 byte. */
export function ceremonySerial(random: Random): bigint {
  return BigInt("0x01" + Buffer.from(random.bytes(15)).toString("hex"));
}

export async function ensureCaGeneration(service: CaGenerationDeps, kind: CaKind, generation: number, log: Log, actor: string): Promise<boolean> {
  const id = caIdOf(kind, generation);
  if (await service.stores.caGenerations.get(id)) {
    log(`${id}: exists`);
    return false;
  }
  log(`${id}: creating`);
  const profile = profileFor(service, kind);
  const key = await tokenKey(service, id, profile.keySpec, log);
  const signer = await service.hsm.signer(key.uri, profile.signatureAlgorithm);
  const now = service.clock.now();
  const certificate = await buildCaCertificate({ kind, generation, profile, signer, serial: ceremonySerial(service.random), notBefore: now });
  // The responder key follows `hsm.serviceKeyType` (P-256 by default: fast in any HSM, independent of the
  // CA key's size; RSA on a token without EC mechanisms, docs/hsm-vendors.md §"Mechanisms").
  const responderKey = await tokenKey(service, `${id}-ocsp-1`, service.config.hsm.serviceKeySpec, log);
  const responderCert = await buildOcspResponderCertificate({
    caId: id,
    caCertificate: certificate,
    caSigner: signer,
    responderPublicKey: responderKey.publicKey,
    serial: ceremonySerial(service.random),
    notBefore: now,
    validityDays: profile.ocspResponderValidityDays,
  });
  const partitionCount = service.config.ca.partitions[kind];
  const ca: CaGeneration = {
    id,
    kind,
    generation,
    keyAlgorithm: profile.keySpec.type === "rsa" ? `RSA-${profile.keySpec.bits}` : profile.keySpec.curve,
    signatureAlgorithm: profile.signatureAlgorithm,
    keyUri: key.uri,
    certificate,
    serialPrefix: serialPrefixOf(kind, generation),
    partitionCount,
    status: "active",
    ocspResponderCertificate: responderCert,
    ocspResponderKeyUri: responderKey.uri,
    createdAt: now,
  };
  await service.db.transaction(async (tx) => {
    await service.stores.caGenerations.insert(ca, tx);
    await service.stores.audit.append(
      { at: now, action: "ca.generation.created", actor, subject: `ca:${id}`, outcome: "success", detail: { keyUri: key.uri, keyAlgorithm: ca.keyAlgorithm, partitionCount, ocspResponderKeyUri: responderKey.uri } },
      tx,
    );
  });
  log(`${id}: CA certificate and OCSP responder certificate recorded (${partitionCount} CRL partitions)`);
  return true;
}

/** The next generation of a kind: generation max + 1 (serial prefixes stay distinct up to 63). */
export async function createNextCaGeneration(service: CaGenerationDeps, kind: CaKind, actor: string, log: Log): Promise<CaGeneration> {
  const gens = (await service.stores.caGenerations.list()).filter((g) => g.kind === kind);
  const next = gens.reduce((m, g) => Math.max(m, g.generation), 0) + 1;
  if (next > 63) throw new CaError("unprocessable", "no serial prefix left for another generation of this kind", { field: "kind" });
  await ensureCaGeneration(service, kind, next, log, actor);
  const made = await service.stores.caGenerations.get(caIdOf(kind, next));
  if (!made) throw new CaError("internal", "the new CA generation was not recorded");
  return made;
}

/** The four-eyes executor of a new CA generation (issue 7: a new CA generation needs approval). */
export function caGenerationExecutor(service: CaGenerationDeps, options: { afterCreate?: () => Promise<unknown> } = {}): ApprovalExecutor<{ kind: CaKind }> {
  return {
    kind: "ca-generation",
    description: "a new CA generation: key generated in the HSM, self-signed CA certificate, OCSP responder",
    requestRoles: ["ca-admin"],
    approveRoles: ["security-officer"],
    parse(input) {
      const kind = (input as { kind?: unknown } | null)?.kind;
      if (kind !== "sign" && kind !== "auth") throw new CaError("invalid-input", "kind must be sign or auth", { field: "kind" });
      return { kind };
    },
    async execute(approval, approver) {
      const actor = typeof approver === "string" ? approver : `operator:${approver.operatorId}`;
      const ca = await createNextCaGeneration(service, approval.params.kind, actor, () => undefined);
      // Taken into use here at once (issuance, CRLs, OCSP); other processes pick it up on their next poll.
      await options.afterCreate?.();
      return { caId: ca.id, generation: ca.generation, keyAlgorithm: ca.keyAlgorithm, certificateUrl: `/ca/${ca.id}.crt` };
    },
  };
}

/**
 * A new CA generation through the admin API: registers the four-eyes executor with the approval engine
 * and returns the request route (`POST /v1/admin/ca/{kind}/generations`).
 * @param afterCreate takes the new generation into use in this process (LiveCaGenerations.refresh)
 */
export function wireCaGenerationApprovals(
  deps: CaGenerationDeps,
  approvals: ApprovalEngine,
  options: { readonly afterCreate: () => Promise<unknown>; readonly requireOperator: (...roles: OperatorRole[]) => Middleware },
): (openapi: OpenApiDocument) => Router {
  approvals.register(caGenerationExecutor(deps, { afterCreate: options.afterCreate }));
  return adminCaGenerationRoutes({ approvals, requireOperator: options.requireOperator });
}
