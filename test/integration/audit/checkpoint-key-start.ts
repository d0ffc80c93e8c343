/**
 * One "node start" of checkpoint-key-race.test.ts, in a process of its own: opens the token and the
 * database, prints "ready", waits for a line on stdin (so that every process races from the same
 * instant), finds or generates the audit checkpoint key under the database lock, prints its public key.
 * Environment: SOFTHSM2_CONF, PKCS11_MODULE, TOKEN_LABEL, TOKEN_PIN, DATABASE_URL, KEY_LABEL.
 */
import { once } from "node:events";
import { auditCheckpointSigner } from "../../../ca/audit/audit-checkpoint-key.js";
import { advisoryLock } from "../../../db/advisory-lock.js";
import { openDatabase } from "../../../db/database.js";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";

const env = (name: string): string => process.env[name] ?? (process.stderr.write(`${name} missing\n`), process.exit(2));
const label = env("KEY_LABEL");
const hsm = await Pkcs11Hsm.open({ modulePath: env("PKCS11_MODULE"), tokenLabel: env("TOKEN_LABEL"), pin: env("TOKEN_PIN") });
const db = await openDatabase({ url: env("DATABASE_URL") });
await db.ping();
process.stdout.write("ready\n");
await once(process.stdin, "data");
const signer = await auditCheckpointSigner(hsm, advisoryLock(db, `hsm-key:${label}`), label);
process.stdout.write(`key ${Buffer.from(signer.publicKey).toString("hex")}\n`);
await hsm.close();
await db.close();
process.exit(0);
