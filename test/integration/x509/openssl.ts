import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pem } from "../../../ca/x509/pem.js";

/** Helpers for the openssl-as-independent-parser tests (not a test file itself). */

/** A throwaway folder under ./var/test/x509/. */
export function scratchDir(): { dir: string; remove(): void } {
  const parent = resolve("var/test/x509");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "run-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a certificate as PEM and returns its path. */
export function writeCert(dir: string, name: string, der: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, pem(der, "CERTIFICATE"));
  return path;
}

/** Runs openssl; returns stdout+stderr and the exit status (never throws on a non-zero status). */
export function openssl(args: readonly string[]): { status: number; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Runs openssl and throws with its output when it fails. */
export function opensslOk(args: readonly string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `AB:CD:…` as openssl prints key identifiers. */
export const colonHex = (b: Uint8Array): string =>
  [...b].map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join(":");

/** openssl's escaping of non-ASCII bytes in `DirName:` (\xE5\x85…). */
export const opensslEscaped = (s: string): string =>
  [...Buffer.from(s, "utf8")].map((b) => (b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase()}`)).join("");

/** The extension headers of `openssl x509 -text` in order, e.g. ["X509v3 Key Usage: critical", …]. */
export function extensionHeaders(text: string): string[] {
  const start = text.indexOf("X509v3 extensions:");
  const end = text.indexOf("Signature Algorithm:", start);
  if (start < 0) return [];
  return text
    .slice(start, end)
    .split("\n")
    .slice(1)
    .filter((l) => /^ {12}\S/.test(l))
    .map((l) => l.trim());
}

/** The text lines under one extension header. */
export function extensionBody(text: string, header: string): string {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trim() === header);
  if (i < 0) return "";
  const body: string[] = [];
  for (let j = i + 1; j < lines.length && /^ {16}/.test(lines[j]!); j++) body.push(lines[j]!.trim());
  return body.join("\n");
}
