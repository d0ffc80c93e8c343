import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import forge from "node-forge";

/**
 * Residents and card keys for the security matrix (test/security/matrix.test.ts): applications of
 * docs/api.md §4 for a resident of the demo terminal's municipality (131041, Shinjuku) and one of another
 * municipality (271004, Osaka), and card-like CSRs (node:crypto RSA-2048 keys, node-forge PKCS#10, as
 * test/e2e/issuance.test.ts builds them).
 */

/** The demo terminal's municipality (cli/ceremony.ts enrols demo-terminal-1 for it). */
export const OWN_MUNICIPALITY = "131041";
/** Another municipality: the matrix enrols a second terminal for it to issue its residents' certificates. */
export const OTHER_MUNICIPALITY = "271004";

const generateRsa = promisify(generateKeyPair);

/** A PKCS#10 request signed with the key, the way a card's middleware builds one. */
function csrOf(publicKey: KeyObject, privateKey: KeyObject): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  csr.setSubject([{ name: "commonName", value: "JPKI card" }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** `n` card CSRs (PEM), each with its own fresh RSA-2048 key; keys are generated in the thread pool. */
export async function cardCsrs(n: number): Promise<string[]> {
  const pairs = await Promise.all(Array.from({ length: n }, () => generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 })));
  return pairs.map((p) => csrOf(p.publicKey, p.privateKey));
}

/** Today's date in Japan (the service decides "today" in JST). */
export const jstToday = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);

/** One resident of the matrix: the four items on file and where they live. */
export interface MatrixResident {
  readonly residentCode: string;
  readonly municipalityCode: string;
  readonly name: string;
  readonly address: string;
}

const ADDRESSES: Readonly<Record<string, string>> = {
  [OWN_MUNICIPALITY]: "東京都新宿区歌舞伎町一丁目４番１号",
  [OTHER_MUNICIPALITY]: "大阪府大阪市北区中之島一丁目３番２０号",
};
const SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本"];

let counter = 0;
/**
 * A new resident of `municipalityCode`, never seen by the service before (a distinct resident code per
 * object, so that no issuance supersedes another object's certificate).
 */
export function newResident(municipalityCode: string): MatrixResident {
  const n = ++counter;
  const residentCode = `7${String(process.pid % 1000).padStart(3, "0")}${String(n).padStart(7, "0")}`;
  const name = `${SURNAMES[n % SURNAMES.length]}　花子`;
  return { residentCode, municipalityCode, name, address: ADDRESSES[municipalityCode] ?? ADDRESSES[OWN_MUNICIPALITY]! };
}

/** The issuance body of docs/api.md §4 for `resident`, stated at `municipalityCode` (default: where the resident lives). */
export function application(resident: MatrixResident, requests: ReadonlyArray<{ kind: "sign" | "auth"; csr: string }>, municipalityCode = resident.municipalityCode): Record<string, unknown> {
  const year = Number(jstToday().slice(0, 4));
  return {
    municipalityCode,
    applicationDate: jstToday(),
    residentCode: resident.residentCode,
    resident: {
      name: resident.name,
      nameSubstituteFlags: "0".repeat([...resident.name].length),
      alias: null,
      dateOfBirth: "1980-02-17",
      gender: 2,
      address: resident.address,
      addressSubstituteFlags: "0".repeat([...resident.address].length),
      cardExpiry: `${year + 10}-12-31`,
      residencePeriodEnd: null,
      underGuardianship: false,
    },
    requests,
  };
}

/** A certificate of the matrix and whose it is. */
export interface MatrixObject {
  readonly resident: MatrixResident;
  /** Lower-case hex serials by kind, as the issuance answered them. */
  readonly serials: Readonly<Partial<Record<"sign" | "auth", string>>>;
  /** The serial the cells act on: the signing one when there is one (it carries the personal data). */
  readonly serial: string;
}
