/**
 * A 3-node NATS JetStream cluster on 127.0.0.1 for the cluster test (test/cluster/): one nats-server
 * process per node with a configuration file of its own (server_name, client port, cluster port,
 * routes to the other two, a JetStream store under the test's directory), so that one node can be
 * stopped and started again while the others carry on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { freePorts } from "./cluster-ports.js";
import { systemBinary } from "./system-binaries.js";

/** nats-server where Debian's package puts it (/usr/sbin is not on an ordinary user's PATH: issue 14 item 6). */
export const natsServerBinary = (): string => systemBinary("nats-server");

export interface NatsNode {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** The three client URLs, comma-separated (what NATS_URL gets). */
  readonly serversList: string;
  /** Stops node `i` (SIGTERM; SIGKILL after 10 s) and waits for the process to end. */
  stopNode(i: number): Promise<void>;
  /** Starts node `i` again with the same configuration and store, and waits until it serves clients. */
  startNode(i: number): Promise<void>;
  /** Waits until JetStream answers through a connection to every running node (a meta leader exists). */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /** Stops every node. */
  destroy(): Promise<void>;
}

interface NodeState {
  readonly name: string;
  readonly url: string;
  readonly conf: string;
  readonly log: string;
  child: ChildProcess | undefined;
}

export async function startNatsCluster(dir: string, size = 3): Promise<NatsCluster> {
  const bin = natsServerBinary();
  mkdirSync(dir, { recursive: true });
  const ports = await freePorts(2 * size);
  const clientPorts = ports.slice(0, size);
  const routePorts = ports.slice(size);
  const nodes: NodeState[] = clientPorts.map((port, i) => {
    const name = `n${i + 1}`;
    const conf = join(dir, `${name}.conf`);
    const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${port}`,
        `jetstream { store_dir: "${join(dir, name)}" }`,
        `cluster { name: jpki-cluster-test, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes.join(", ")}] }`,
        "",
      ].join("\n"),
    );
    return { name, url: `nats://127.0.0.1:${port}`, conf, log: join(dir, `${name}.log`), child: undefined };
  });

  const start = async (node: NodeState): Promise<void> => {
    const child = spawn(bin, ["-c", node.conf, "-l", node.log], { stdio: "ignore" });
    node.child = child;
    child.once("exit", () => {
      if (node.child === child) node.child = undefined;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const nc = await connect({ servers: node.url, reconnect: false, timeout: 1000 });
        await nc.close();
        return;
      } catch {
        if (!node.child) throw new Error(`nats-server ${node.name} exited at start; see ${node.log}`);
        if (Date.now() > deadline) throw new Error(`nats-server ${node.name} does not accept clients; see ${node.log}`);
        await sleep(100);
      }
    }
  };
  const stop = async (node: NodeState): Promise<void> => {
    const child = node.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const cluster: NatsCluster = {
    get nodes() {
      return nodes.map((n) => ({ name: n.name, url: n.url, running: n.child !== undefined }));
    },
    serversList: nodes.map((n) => n.url).join(","),
    stopNode: (i) => stop(nodes[i]!),
    startNode: (i) => start(nodes[i]!),
    waitForJetStream: async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (const node of nodes.filter((n) => n.child)) {
        let nc: NatsConnection | undefined;
        for (;;) {
          try {
            nc ??= await connect({ servers: node.url, timeout: 1000 });
            await (await nc.jetstreamManager({ timeout: 2000 })).getAccountInfo();
            break;
          } catch (e) {
            if (Date.now() > deadline) throw new Error(`JetStream not ready on ${node.name}: ${(e as Error).message}`);
            await sleep(250);
          }
        }
        await nc.close();
      }
    },
    destroy: async () => {
      await Promise.all(nodes.map(stop));
    },
  };
  try {
    await Promise.all(nodes.map(start));
    await cluster.waitForJetStream();
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
  return cluster;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
