#!/usr/bin/env -S npx tsx
/**
 * The operator command line (docs/api.md §8): `npm run cli -- <command>`.
 * Each command prints what it did and exits non-zero with a clear message on failure.
 */
import { ConfigError, loadConfig } from "../api/config.js";
import { buildResidentEvents, createNextCaGeneration, openService, serve, workerMetricsSource, type Service } from "../api/main.js";
import { isWorker, reportServing, superviseWorkers } from "./workers.js";
import { checkVarPermissions, VarPermissionError } from "./var-permissions.js";
import { isCaError } from "../ca/errors.js";
import { runCeremony, caExists } from "./ceremony.js";
import { operatorAdd, operatorUnlock, operatorAddUsage } from "./operator-commands.js";
import { terminalEnrol, terminalRevoke, terminalEnrolUsage } from "./terminal-commands.js";
import { clientCertificateCommand, clientCertificateUsage } from "./client-certificate-commands.js";
import { crlCheck, crlRun, crlUsage } from "./crl-commands.js";
import { eventsCommand, eventsUsage } from "./events-commands.js";
import { auditCheckpoint, auditVerify, retentionRun, retentionRunUsage } from "./audit-commands.js";
import { relyingPartyAdd, relyingPartyAddUsage, relyingPartyDeactivate } from "./relying-party-commands.js";

/** Opens the service (database, HSM) for one command and closes it afterwards. */
async function withService(work: (s: Service) => Promise<number>): Promise<number> {
  const service = await openService(loadConfig());
  try {
    return await work(service);
  } finally {
    await service.close();
  }
}

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, { help: string; run: Command }> = {
  init: {
    help: "key ceremony: CA keys and certificates for sign-g1 and auth-g1, OCSP responders, service CA, demo credentials (idempotent)",
    run: async () => {
      const service = await openService(loadConfig());
      try {
        const report = await runCeremony(service, (line) => console.log(line));
        console.log(report.created.length === 0 ? "init: nothing to do, the CA exists" : `init: created ${report.created.join(", ")}`);
        return 0;
      } finally {
        await service.close();
      }
    },
  },
  operator: {
    help: `${operatorAddUsage} | operator unlock <id>`,
    run: async ([sub, ...rest]) =>
      withService((s) => {
        if (sub === "add") return operatorAdd(s, rest);
        if (sub === "unlock") return operatorUnlock(s, rest);
        throw new Error("usage: operator add|unlock …");
      }),
  },
  terminal: {
    help: `${terminalEnrolUsage} | terminal revoke <id>`,
    run: async ([sub, ...rest]) =>
      withService((s) => {
        if (sub === "enrol") return terminalEnrol(s, rest);
        if (sub === "revoke") return terminalRevoke(s, rest);
        throw new Error("usage: terminal enrol|revoke …");
      }),
  },
  workstation: {
    help: `${clientCertificateUsage("admin")} (admin workstation client certificates)`,
    run: async (args) => withService((s) => clientCertificateCommand(s, "admin", args)),
  },
  feed: {
    help: `${clientCertificateUsage("feed")} (resident feed client certificates)`,
    run: async (args) => withService((s) => clientCertificateCommand(s, "feed", args)),
  },
  "relying-party": {
    help: `${relyingPartyAddUsage} | relying-party deactivate <id>`,
    run: async ([sub, ...rest]) =>
      withService((s) => {
        if (sub === "add") return relyingPartyAdd(s, rest);
        if (sub === "deactivate") return relyingPartyDeactivate(s, rest);
        throw new Error("usage: relying-party add|deactivate …");
      }),
  },
  events: {
    help: eventsUsage,
    run: async (args) =>
      withService(async (s) => {
        // An interrupted import exits 3; running it again resumes from its checkpoint.
        const stop = new AbortController();
        process.once("SIGINT", () => stop.abort());
        return eventsCommand({ events: buildResidentEvents(s), varDir: s.config.varDir, signal: stop.signal }, args);
      }),
  },
  ca: {
    help: "ca generation new sign|auth (a new CA generation: key in the HSM, CA and OCSP responder certificates; a running service takes it into use within 30 s)",
    run: async ([sub, verb, kind]) =>
      withService(async (s) => {
        if (sub !== "generation" || verb !== "new" || (kind !== "sign" && kind !== "auth")) throw new Error("usage: ca generation new sign|auth");
        const ca = await createNextCaGeneration(s, kind, "cli", (line) => console.log(line));
        console.log(`${ca.id} created (${ca.keyAlgorithm}); restart the service to issue from it`);
        return 0;
      }),
  },
  crl: {
    help: `${crlUsage} (run: issue now; check: coverage of every revoked certificate)`,
    run: async ([sub, ...rest]) =>
      withService((s) => {
        if (sub === "run") return crlRun(s, rest);
        if (sub === "check") return crlCheck(s, rest);
        throw new Error(`usage: ${crlUsage}`);
      }),
  },
  audit: {
    help: "audit verify | audit checkpoint (verify exits 1 when the hash chain or a checkpoint does not verify)",
    run: async ([sub, ...rest]) =>
      withService((s) => {
        if (sub === "verify") return auditVerify(s, rest);
        if (sub === "checkpoint") return auditCheckpoint(s, rest);
        throw new Error("usage: audit verify|checkpoint");
      }),
  },
  retention: {
    help: retentionRunUsage,
    run: async ([sub, ...rest]) =>
      withService((s) => {
        if (sub === "run") return retentionRun(s, rest, console.log, s.config.retention);
        throw new Error(`usage: ${retentionRunUsage}`);
      }),
  },
  serve: {
    help: "serve the HTTP and HTTPS listeners",
    run: async () => startServing(false),
  },
  start: {
    help: "init when no CA exists yet, then serve (what `npm start` runs)",
    run: async () => startServing(true),
  },
  help: {
    help: "this list",
    run: async () => {
      console.log("usage: npm run cli -- <command>\n");
      for (const [name, c] of Object.entries(commands)) console.log(`  ${name.padEnd(20)} ${c.help}`);
      return 0;
    },
  },
};

async function startServing(initIfMissing: boolean): Promise<number> {
  const config = loadConfig();
  // Issue 12: refuse to serve with generated state open to other users (repaired with a warning when possible).
  checkVarPermissions(config.varDir, (line) => console.warn(line));
  const worker = isWorker();
  const service = await openService(config);
  let closed = false;
  try {
    if (!worker && !(await caExists(service))) {
      if (!initIfMissing) throw new Error("no CA exists yet: run `npm run cli -- init` first");
      console.log("no CA yet: running the key ceremony");
      await runCeremony(service, (line) => console.log(line));
    }
    if (!worker && config.workers > 1) {
      // The supervisor: the database is migrated and the CA exists; the workers serve.
      await service.close().finally(() => (closed = true));
      const urls = await superviseWorkers(config, (line) => console.log(line));
      console.log(`serving ${urls.httpUrl} (relying parties, health) and ${urls.httpsUrl} (mTLS: terminals, operators, feed) with ${config.workers} workers`);
      console.log(`operator console: ${new URL("/console/", urls.httpsUrl.replace(/\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::1?\])(?=:)/, "//localhost")).href} (admin client certificate, docs/console.md)`);
      if (config.metrics.listen) console.log(`metrics on http://${config.metrics.listen.host}:${config.metrics.listen.port}/metrics (every worker; port 0 means a free one)`);
      if (config.mode === "demo") console.log(`demo credentials: ${config.demoDir}`);
      return -1; // keep running
    }
    if (worker) service.metrics.useSource(workerMetricsSource(service.metrics.registry));
    // Every process is a node: the background jobs run under job leases (docs/cluster.md).
    const listeners = await serve(service);
    if (worker) {
      reportServing(listeners.httpUrl, listeners.httpsUrl);
    } else {
      console.log(`serving ${listeners.httpUrl} (relying parties, health) and ${listeners.httpsUrl} (mTLS: terminals, operators, feed)`);
      console.log(`operator console: ${new URL("/console/", listeners.httpsUrl.replace(/\/\/(127\.0\.0\.1|0\.0\.0\.0|\[::1?\])(?=:)/, "//localhost")).href} (admin client certificate, docs/console.md)`);
      if (listeners.metricsUrl) console.log(`metrics on ${listeners.metricsUrl}/metrics${config.metrics.token ? " (scrape token required)" : ""}`);
      if (config.mode === "demo") console.log(`demo credentials: ${config.demoDir}`);
    }
    const stop = async (signal: string): Promise<void> => {
      console.log(`${signal}: shutting down`);
      await listeners.close();
      await service.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop("SIGINT"));
    process.once("SIGTERM", () => void stop("SIGTERM"));
    return -1; // keep running
  } catch (e) {
    if (!closed) await service.close();
    throw e;
  }
}

async function main(argv: string[]): Promise<void> {
  // Issue 12: everything this process creates (database, token, keys, demo credentials, exports) is
  // owner-only, 0700/0600, before any command opens a file.
  process.umask(0o077);
  const [name = "help", ...args] = argv;
  const command = commands[name];
  if (!command) {
    console.error(`unknown command: ${name} (try: npm run cli -- help)`);
    process.exit(2);
  }
  try {
    const code = await command.run(args);
    if (code >= 0) process.exit(code);
  } catch (e) {
    if (e instanceof ConfigError) console.error(`configuration error: ${e.message}`);
    else if (e instanceof VarPermissionError) console.error(`${name}: ${e.message}`);
    else if (isCaError(e)) console.error(`${name}: ${e.message}`);
    else console.error(`${name} failed: ${(e as Error).message ?? String(e)}`);
    process.exit(1);
  }
}

void main(process.argv.slice(2));
