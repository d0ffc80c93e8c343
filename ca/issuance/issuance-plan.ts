import type { AliasFormatter } from "../residents/alias-format.js";
import type { ParsedCsr } from "./csr.js";
import { formatJpkiDateOfBirth } from "../residents/era.js";
import { CaError } from "../errors.js";
import type { IssuanceRequest } from "./issuance-request.js";
import type { IssuingAuthority, PersonalFields } from "./issuing-authority.js";
import type { Random } from "../ports.js";
import type { ResidentApplication } from "../residents/resident-fields.js";
import { generateSerial, partitionOf } from "./serial.js";
import type { NewPendingCertificate } from "../stores.js";
import type { CaKind, CertificateDevice, CertificateRecord } from "../types.js";
import { computeValidity } from "./validity.js";

/**
 * Step (1) of an issuance, before anything is written (ca/issuance/issuance-service.ts): for each requested
 * certificate its validity (docs/domain.md §2), serial and partition, the to-be-signed certificate and what is
 * recorded and answered. Pure but for the random serials and subject ids.
 */

/** Who asks, as recorded with every certificate. */
export interface PlanContext {
  readonly terminalId: string;
  readonly operatorId: string;
}

export interface PlanDeps {
  readonly random: Random;
  readonly aliasFormatter: AliasFormatter;
}

/** One certificate of an issuance, planned: what the pending row stores and the HSM signs. */
export interface Planned {
  readonly authority: IssuingAuthority;
  readonly csr: ParsedCsr;
  readonly serial: string;
  readonly tbs: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly partition: number;
  readonly subjectId: string;
  readonly recorded: Record<string, unknown>;
}

export function planCertificates(
deps: PlanDeps,
request: IssuanceRequest,
  csrs: ReadonlyArray<{ kind: CaKind; authority: IssuingAuthority; csr: ParsedCsr; field: string }>,
  live: readonly CertificateRecord[],
  ctx: PlanContext,
  issuanceId: string,
  now: Date,
): Planned[] {
  const app = request.application;
  const r = app.resident;
  const plans: Planned[] = [];
  let authNotAfter: Date | null = null;
  for (const c of csrs) {
    // Previous certificates of this kind (the renewal rule looks at the newest one still valid).
    const previous = live.filter((x) => x.kind === c.kind && x.status === "valid").sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0];
    let userAuthNotAfter: Date | null = null;
    if (c.kind === "sign") {
      const currentAuth = live.filter((x) => x.kind === "auth" && x.status === "valid" && x.notAfter > now).sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0];
      userAuthNotAfter = authNotAfter ?? currentAuth?.notAfter ?? null;
      // docs/domain.md §2/§5: the signing certificate may not outlive the user-authentication one.
      if (userAuthNotAfter === null) {
        throw new CaError("unprocessable", "a signing certificate needs a valid user-authentication certificate: request both", { field: "requests" });
      }
    }
    const validity = computeValidity(
      {
        kind: c.kind,
        issuedAt: now,
        applicationDate: app.applicationDate,
        dateOfBirth: r.dateOfBirth,
        cardExpiry: r.cardExpiry,
        residencePeriodEnd: r.residencePeriodEnd,
        underGuardianship: r.underGuardianship,
        previousCertificateNotAfter: previous?.notAfter ?? null,
        userAuthNotAfter,
      },
      c.authority.validityRules,
    );
    if (c.kind === "auth") authNotAfter = validity.notAfter;
    const serial = generateSerial(c.authority.ca.serialPrefix, deps.random);
    const partition = partitionOf(serial, c.authority.ca.partitionCount);
    const subjectId = Buffer.from(deps.random.bytes(12)).toString("hex").toUpperCase();
    const personal: PersonalFields | null = c.kind === "sign" ? personalFieldsOf(deps.aliasFormatter, app.resident) : null;
    const tbs = c.authority.prepare({
      serial,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      partition,
      subjectId,
      subjectPublicKey: c.csr.publicKey,
      municipalityCode: app.municipalityCode,
      personal,
    });
    const answer = {
      kind: c.kind,
      caId: c.authority.ca.id,
      serialNumber: serial,
      issuer: c.authority.issuerName,
      notBefore: validity.notBefore.toISOString(),
      notAfter: validity.notAfter.toISOString(),
      policyOid: c.authority.policyOid,
      keyUsage: c.authority.keyUsage,
      publicKey: Buffer.from(c.csr.publicKey).toString("base64"),
      ...(personal
        ? {
            subject: {
              name: personal.name,
              nameSubstituteFlags: personal.nameSubstituteFlags,
              dateOfBirth: personal.dateOfBirth,
              gender: personal.gender,
              address: personal.address,
              addressSubstituteFlags: personal.addressSubstituteFlags,
            },
          }
        : {}),
    };
    plans.push({
      authority: c.authority,
      csr: c.csr,
      serial,
      tbs,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      partition,
      subjectId,
      recorded: {
        answer,
        resident: { ...r },
        municipalityCode: app.municipalityCode,
        applicationDate: app.applicationDate,
        terminalId: ctx.terminalId,
        operatorId: ctx.operatorId,
        issuanceId,
        cappedBy: validity.cappedBy,
        renewal: validity.renewal,
      },
    });
  }
  return plans;
}

/** The fields of a resident a signing certificate states (docs/domain.md §2). */
export type CertifiedResident = Pick<ResidentApplication["resident"], "name" | "nameSubstituteFlags" | "alias" | "aliasSubstituteFlags" | "gender" | "dateOfBirth" | "address" | "addressSubstituteFlags">;

/** The signing certificate's personal fields of a resident, the alias rendered (ca/residents/alias-format.ts). */
export function personalFieldsOf(aliasFormatter: AliasFormatter, r: CertifiedResident): PersonalFields {
  const rendered = aliasFormatter.render({
    name: r.name,
    nameSubstituteFlags: r.nameSubstituteFlags,
    alias: r.alias,
    ...(r.aliasSubstituteFlags !== null ? { aliasSubstituteFlags: r.aliasSubstituteFlags } : {}),
  });
  return {
    name: rendered.name,
    nameSubstituteFlags: rendered.nameSubstituteFlags,
    gender: String(r.gender) as PersonalFields["gender"],
    dateOfBirth: formatJpkiDateOfBirth(r.dateOfBirth),
    address: r.address,
    addressSubstituteFlags: r.addressSubstituteFlags,
  };
}

/** A planned certificate as the pending row that reserves its serial (invariant 1); `issuanceId` null for a phone application (docs/phone.md). */
export function pendingOf(p: Planned, residentCode: string, issuanceId: string | null, now: Date, device: CertificateDevice = "card"): NewPendingCertificate {
  return {
    serial: p.serial,
    caId: p.authority.ca.id,
    kind: p.authority.kind,
    device,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    partition: p.partition,
    tbs: p.tbs,
    publicKeySha256: p.csr.publicKeySha256,
    subjectId: p.subjectId,
    residentCode,
    issuanceId,
    recorded: p.recorded,
    createdAt: now,
  };
}
