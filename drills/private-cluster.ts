import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = path.join(__dirname, '../scripts/services.sh');

/** A Redis Cluster of a drill's own (3 masters, 3 replicas), made by `services.sh cluster`. */
export interface PrivateCluster {
  url: string;
  ports: number[];
  /** SIGKILLs the node on `port`: a crash, as its clients and peers see it. */
  kill: (port: number) => void;
  /** Starts every node that is down again; a killed master comes back as a replica. */
  restartDown: () => Promise<void>;
  close: () => Promise<void>;
}

/**
 * Six consecutive ports no one listens on, nor on their cluster bus ports (+10000), all below
 * Linux's ephemeral range (32768–60999 by default): a port there can be the local end of some
 * outgoing connection, which no probe sees and which makes the node's bind fail.
 */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 2_700);
    const probe = await run('bash', [
      '-c',
      `for p in $(seq ${base} ${base + 5}) $(seq ${base + 10_000} ${base + 10_005}); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && exit 1; done; exit 0`,
    ]).then(
      () => true,
      () => false,
    );
    if (probe) return base;
  }
}

/**
 * Starts a private cluster in a temporary folder on free ports, with the script's short
 * `cluster-node-timeout` (2 s) so a replica takes over within seconds.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const base = await freeBase();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'drill-cluster-'));
  const env = {
    ...process.env,
    OFFBOARD_DATA_DIR: dataDir,
    OFFBOARD_CLUSTER_PORT: String(base),
    OFFBOARD_CLUSTER_NODE_TIMEOUT_MS: '2000',
  };
  const cluster = (command: string) =>
    run('bash', [script, 'cluster', command, '--quiet'], { env });
  try {
    await cluster('start');
  } catch (error) {
    await cluster('stop').catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const url = (await cluster('url')).stdout.trim();
  const ports = Array.from({ length: 6 }, (_, offset) => base + offset);
  return {
    url,
    ports,
    kill: (port) => {
      const pid = Number(
        readFileSync(path.join(dataDir, 'redis-cluster', String(port), 'redis.pid'), 'utf8'),
      );
      process.kill(pid, 'SIGKILL');
    },
    restartDown: async () => {
      await cluster('start');
    },
    close: async () => {
      await cluster('stop').catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
