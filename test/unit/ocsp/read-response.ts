import * as asn1js from "asn1js";
import * as pkijs from "pkijs";

/** An OCSPResponse read back with pkijs, for assertions. */
export interface ReadResponse {
  readonly status: number;
  readonly producedAt?: Date;
  readonly responses: Array<{
    serialHex: string;
    hashOid: string;
    status: "good" | "revoked" | "unknown";
    revocationTime?: Date;
    reason?: number;
    thisUpdate: Date;
    nextUpdate?: Date;
  }>;
  /** extnID → extnValue hex */
  readonly extensions: Record<string, string>;
  /** SHA-1 key hash hex of the responder (byKey) */
  readonly responderKeyHash?: string;
}

export function readResponse(der: Uint8Array): ReadResponse {
  // A copy of exactly these bytes: Buffer#slice is a view into a possibly pooled ArrayBuffer.
  const resp = pkijs.OCSPResponse.fromBER(new Uint8Array(der).buffer);
  const status = resp.responseStatus.valueBlock.valueDec;
  if (!resp.responseBytes) return { status, responses: [], extensions: {} };
  const basic = pkijs.BasicOCSPResponse.fromBER(resp.responseBytes.response.valueBlock.valueHexView.slice().buffer);
  const rd = basic.tbsResponseData;
  const responses = rd.responses.map((r) => {
    const cs = r.certStatus as asn1js.BaseBlock & { idBlock: { tagNumber: number }; valueBlock: { value?: asn1js.BaseBlock[] } };
    const tag = cs.idBlock.tagNumber;
    const out: ReadResponse["responses"][number] = {
      serialHex: Buffer.from(r.certID.serialNumber.valueBlock.valueHexView).toString("hex"),
      hashOid: r.certID.hashAlgorithm.algorithmId,
      status: tag === 0 ? "good" : tag === 1 ? "revoked" : "unknown",
      thisUpdate: r.thisUpdate,
      ...(r.nextUpdate ? { nextUpdate: r.nextUpdate } : {}),
    };
    if (tag === 1) {
      const parts = cs.valueBlock.value ?? [];
      out.revocationTime = (parts[0] as asn1js.GeneralizedTime).toDate();
      const reason = parts[1] as (asn1js.Constructed & { valueBlock: { value: asn1js.Enumerated[] } }) | undefined;
      if (reason) out.reason = reason.valueBlock.value[0]!.valueBlock.valueDec;
    }
    return out;
  });
  const extensions: Record<string, string> = {};
  for (const e of rd.responseExtensions ?? []) extensions[e.extnID] = Buffer.from(e.extnValue.valueBlock.valueHexView).toString("hex");
  const byKey = rd.responderID instanceof asn1js.OctetString ? Buffer.from(rd.responderID.valueBlock.valueHexView).toString("hex") : undefined;
  return { status, producedAt: rd.producedAt, responses, extensions, ...(byKey ? { responderKeyHash: byKey } : {}) };
}

export const EXTENDED_REVOKE_OID = "1.3.6.1.5.5.7.48.1.9";
export const NONCE_OID = "1.3.6.1.5.5.7.48.1.2";
