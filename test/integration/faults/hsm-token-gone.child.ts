/**
 * Child process of hsm-token-gone.test.ts: SoftHSM reads SOFTHSM2_CONF once per process (docs/traps.md
 * §1), so the dedicated token of the fault test lives in a process of its own. Argument: the token
 * directory. Writes one JSON line of observations to stdout.
 */
import { renameSync } from "node:fs";
import { isCaError } from "../../../ca/errors.js";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";

const tokenDir = process.argv[2]!;
const away = `${tokenDir}.away`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const kindOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return "ok";
  } catch (e) {
    return isCaError(e) ? e.kind : `non-CaError ${(e as Error).name}`;
  }
};

const hsm = await Pkcs11Hsm.open({ modulePath: "/usr/lib/softhsm/libsofthsm2.so", tokenLabel: "faults-hsm", pin: "123456", maxAttempts: 3 });
try {
  const { uri } = await hsm.generateKey("faults-key", { type: "ec", curve: "P-256" });
  const signer = await hsm.signer(uri, "ecdsa-with-SHA256");
  const data = new TextEncoder().encode("probe");
  const out: Record<string, unknown> = {};
  out.before = { sign: await kindOf(signer.sign(data)), absentKey: await kindOf(hsm.signer(uri.replace("faults-key", "no-such-key"), "ecdsa-with-SHA256")) };

  renameSync(tokenDir, away); // the token directory is gone (an operator's fault injection of issue 14)
  const during: string[] = [];
  for (let i = 0; i < 5; i++) {
    during.push(await kindOf(hsm.signer(uri, "ecdsa-with-SHA256")), await kindOf(hsm.publicKey(uri)), await kindOf(signer.sign(data)));
    await sleep(200);
  }
  out.during = during;
  out.healthDuring = (await hsm.health()).ok;

  renameSync(away, tokenDir);
  const back = performance.now();
  let recovered: number | undefined;
  const after: string[] = [];
  while (performance.now() - back < 10_000) {
    const k = [await kindOf(hsm.signer(uri, "ecdsa-with-SHA256")), await kindOf(signer.sign(data))];
    after.push(...k);
    if (k.every((x) => x === "ok")) {
      recovered = performance.now() - back;
      break;
    }
    await sleep(200);
  }
  out.after = after;
  out.recoveredMs = recovered;
  out.absentKeyAfter = await kindOf(hsm.signer(uri.replace("faults-key", "no-such-key"), "ecdsa-with-SHA256"));
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await hsm.close();
}
