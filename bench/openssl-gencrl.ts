import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The CRL baseline of the benchmarks: `openssl ca -gencrl` with a fresh software RSA-2048 key (sha256)
 * over an index.txt of `indexLines` (openssl's `R\tnotAfter\trevokedAt,reason\tSERIAL\tunknown\t/CN=…`),
 * in `dir`. docs/traps.md §5: the same config the first baseline was measured with. Wall seconds and
 * peak RSS of openssl, from /usr/bin/time.
 */
export function opensslGenCrl(dir: string, indexLines: readonly string[]): { seconds: number; maxRssKb: number } {
  const run = (args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  run(["genrsa", "-out", "ca.key", "2048"]);
  run(["req", "-x509", "-new", "-key", "ca.key", "-subj", "/C=JP/O=bench/CN=bench CA", "-days", "3650", "-sha256", "-out", "ca.pem"]);
  writeFileSync(join(dir, "index.txt"), indexLines.join("\n") + "\n");
  writeFileSync(join(dir, "index.txt.attr"), "unique_subject = no\n");
  writeFileSync(join(dir, "crlnumber"), "01\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    ["[ca]", "default_ca = bench", "[bench]", `dir = ${dir}`, "database = $dir/index.txt", "crlnumber = $dir/crlnumber", "certificate = $dir/ca.pem",
      "private_key = $dir/ca.key", "default_md = sha256", "default_crl_days = 1", "unique_subject = no", ""].join("\n"),
  );
  const r = execFileSync("bash", ["-c", '/usr/bin/time -f "TIME %e %M" openssl ca -gencrl -config ca.cnf -out crl.pem -batch 2>&1 >/dev/null | tail -n 1'], { cwd: dir, encoding: "utf8" });
  const m = /TIME ([0-9.]+) ([0-9]+)/.exec(r);
  if (!m) throw new Error(`openssl ca -gencrl failed: ${r}`);
  return { seconds: Number(m[1]), maxRssKb: Number(m[2]) };
}
