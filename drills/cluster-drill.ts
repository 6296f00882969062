import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { killService, startServiceProcess, type ServiceProcess } from '../test-kit/service-process';
import { freePort } from '../test-kit/free-port';
import { submitAll, type Submission } from './drill-client';
import { drillEnv, startDrillProcesses } from './drill-processes';
import { seedDrillStore } from './drill-store';
import { verifyStore, waitForRuns } from './drill-verdict';
import type { DrillContext, DrillReport } from './drills';
import { startPrivateCluster, type PrivateCluster } from './private-cluster';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The port of the master serving `key`'s slot, as the node `client` reaches says now. */
async function masterPortOf(client: Cluster | Redis, key: string): Promise<number | null> {
  const slot = await client.cluster('KEYSLOT', key);
  const ranges = await client.cluster('SLOTS');
  const range = ranges.find(([start, end]) => start <= slot && slot <= end);
  return range?.[2]?.[1] ?? null;
}

/**
 * Asks the live nodes one at a time, plainly (each answers with its own view of the cluster),
 * until `ask` gives a value; `null` when none did.
 */
async function askLiveNodes<T>(
  cluster: PrivateCluster,
  dead: number,
  ask: (node: Redis) => Promise<T | null>,
): Promise<T | null> {
  for (const port of cluster.ports.filter((each) => each !== dead)) {
    const node = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      connectTimeout: 500,
      commandTimeout: 1_000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      await node.connect();
      const answer = await ask(node);
      if (answer !== null) return answer;
    } catch {
      // this node is down or slow
    } finally {
      node.disconnect();
    }
  }
  return null;
}

/** Waits until a node other than `dead` serves `key`'s slot (the replica took over). */
async function waitForFailover(
  cluster: PrivateCluster,
  key: string,
  dead: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const master = await askLiveNodes(cluster, dead, async (node) => {
      const port = await masterPortOf(node, key);
      return port !== null && port !== dead ? port : null;
    });
    if (master !== null) return master;
    if (Date.now() > deadline) {
      // What the cluster looked like, so a failed failover can be understood from the log.
      const nodes = await askLiveNodes(cluster, dead, async (node) =>
        String(await node.call('CLUSTER', 'NODES')),
      );
      throw new Error(`no replica took over ${key}'s slot:\n${nodes ?? '(no node answered)'}`);
    }
    await sleep(250);
  }
}

function merge(parts: Submission[]): Submission {
  return {
    runIds: new Map(parts.flatMap((part) => [...part.runIds])),
    serverErrors: parts.reduce((sum, part) => sum + part.serverErrors, 0),
    unavailable: parts.reduce((sum, part) => sum + part.unavailable, 0),
    errorSamples: parts.flatMap((part) => part.errorSamples).slice(0, 3),
  };
}

/**
 * 7. Scale-out on a Redis Cluster (3 masters, 3 replicas): 2 API processes and 3 worker
 * processes; a third of the way through the submissions the master serving the queues' slot is
 * SIGKILLed (its replica takes over after `cluster-node-timeout`, then the old master comes back
 * as a replica); two thirds through, a worker is SIGKILLed (the supervisor replaces it). Every
 * run must complete once, and the APIs answer 503, never 500, while the slot has no master.
 */
export async function clusterFailover(context: DrillContext): Promise<DrillReport> {
  const name = 'Redis Cluster failover (2 API, 3 workers)';
  const started = Date.now();
  const cluster = await startPrivateCluster();
  const store = await seedDrillStore(context.mongoUrl, context.runs);
  const env = drillEnv(context.mongoUrl, store.dbName, cluster.url);
  const queuePrefix = `{${env.QUEUE_PREFIX ?? 'drill'}}`;
  env.QUEUE_PREFIX = queuePrefix;
  const processes = await startDrillProcesses(env, env, 3);
  let secondApi: ServiceProcess | null = null;
  const admin = new Cluster(
    cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
    { redisOptions: { maxRetriesPerRequest: null } },
  );
  try {
    secondApi = await startServiceProcess('api-main', env, await freePort());
    const apis = [processes.api, secondApi];
    const total = store.users.length;
    let done = 0;
    let faults = 0;
    const script = (async () => {
      while (done < Math.floor(total / 3)) await sleep(50);
      const master = await masterPortOf(admin, `${queuePrefix}:x`);
      if (master === null) throw new Error('the queues slot has no master before the drill');
      context.log(`${name}: SIGKILL the master on ${master}`);
      const killedAt = Date.now();
      cluster.kill(master);
      faults += 1;
      const successor = await waitForFailover(cluster, `${queuePrefix}:x`, master);
      context.log(
        `${name}: ${successor} took over after ${Math.round((Date.now() - killedAt) / 100) / 10} s`,
      );
      await cluster.restartDown();
      while (done < Math.floor((2 * total) / 3)) await sleep(50);
      const victim = processes.workers.find(
        (worker) => worker.child.exitCode === null && worker.child.signalCode === null,
      );
      if (victim) {
        await killService(victim); // the supervisor starts a replacement
        faults += 1;
      }
    })();
    // Each API takes every other user, as behind a load balancer.
    const halves = apis.map((_, index) => store.users.filter((__, i) => i % apis.length === index));
    const progress = apis.map(() => 0);
    const parts = await Promise.all(
      apis.map((api, index) =>
        submitAll(api.baseUrl, store, halves[index] ?? [], {
          onProgress: (count) => {
            progress[index] = count;
            done = progress.reduce((sum, each) => sum + each, 0);
          },
        }),
      ),
    );
    done = total;
    await script;
    const submission = merge(parts);
    await waitForRuns(store, submission.runIds.size, 120_000 + context.runs * 400);
    // Effects are checked as the store ends (no first writes watched while the cluster fails over).
    const verdict = await verifyStore(store, submission, new Map());
    if (verdict.problems.length > 0) {
      context.log(`${name}: ${verdict.problems.join('\n  ')}`);
      for (const service of [...apis, ...processes.workers.slice(-2)]) {
        context.log(`--- ${name}: process output (tail) ---\n${service.output().slice(-3_000)}`);
      }
    }
    for (const sample of submission.errorSamples) context.log(`${name}: API answered ${sample}`);
    return {
      drill: name,
      runs: context.runs,
      faults,
      injected: faults,
      failures: faults === 0 ? ['no fault was injected'] : [],
      effectsWatched: 0,
      inFlightAtFaults: [],
      serverErrors: submission.serverErrors,
      unavailable: submission.unavailable,
      seconds: Math.round((Date.now() - started) / 1000),
      ...verdict,
    };
  } finally {
    if (context.outputDir !== undefined) {
      mkdirSync(context.outputDir, { recursive: true });
      const all = [processes.api, secondApi, ...processes.workers];
      for (const [index, service] of all.entries()) {
        if (service)
          writeFileSync(path.join(context.outputDir, `cluster-${index}.log`), service.output());
      }
    }
    admin.disconnect();
    if (secondApi) await killService(secondApi);
    await processes.close();
    await cluster.close();
    await store.close().catch(() => undefined);
  }
}
