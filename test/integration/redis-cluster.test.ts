import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { FlowProducer, Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { loadConfig } from '../../src/config/config';
import {
  createRedisConnection,
  serversOf,
  type RedisClient,
} from '../../src/infra/redis-connection';
import { readEvictionPolicy } from '../../src/infra/redis-eviction-policy';
import { checkReadiness } from '../../src/infra/readiness';
import { createRedisLock } from '../../src/infra/redis-lock';
import { queueNames, queuePrefixFor } from '../../src/queues/queue-names';
import { deletePrefix, keysUnder } from '../../test-kit/redis-keys';
import { openTestStore, uniquePrefix, type TestStore } from '../support/test-env';

/**
 * The local Redis Cluster of `scripts/services.sh cluster` (3 masters, 3 replicas), whatever
 * REDIS_URL the rest of the suite runs on: what only a cluster can show.
 */
const script = path.join(__dirname, '../../scripts/services.sh');

function clusterUrl(): string {
  execFileSync('bash', [script, 'cluster', 'start', '--quiet'], { stdio: 'inherit' });
  return execFileSync('bash', [script, 'cluster', 'url']).toString().trim();
}

describe('offboard on a Redis Cluster', () => {
  let url: string;
  let cluster: RedisClient;
  let store: TestStore;
  const prefixes: string[] = [];
  const prefix = (): string => {
    const made = uniquePrefix('cl');
    prefixes.push(made);
    return made;
  };

  beforeAll(async () => {
    url = clusterUrl();
    cluster = createRedisConnection(url, 'worker');
    store = await openTestStore('cluster');
    await cluster.ping();
  });

  afterAll(async () => {
    for (const made of prefixes) await deletePrefix(cluster, made);
    await cluster.quit();
    await store.close();
  });

  it('connects with a Cluster client whose nodes are the three masters', () => {
    expect(cluster).toBeInstanceOf(Cluster);
    expect(serversOf(cluster)).toHaveLength(3);
    expect(loadConfig({ REDIS_URL: url }).redis).toMatchObject({ mode: 'cluster' });
  });

  it("reads every master's eviction policy, not one node's", async () => {
    for (const master of serversOf(cluster)) {
      await master.config('SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        expect(await readEvictionPolicy(cluster)).toBe('allkeys-lru');
      } finally {
        await master.config('SET', 'maxmemory-policy', 'noeviction');
      }
    }
    expect(await readEvictionPolicy(cluster)).toBe('noeviction');
  });

  it('answers ready after pinging every master', async () => {
    const readiness = await checkReadiness(store.mongo, cluster);
    expect(readiness).toEqual({ ready: true, checks: { mongodb: 'ok', redis: 'ok' } });
  });

  it('adds a flow across two queues under a {tag} prefix; without a tag it is CROSSSLOT', async () => {
    const tagged = prefix();
    const flows = new FlowProducer({ connection: cluster, prefix: tagged });
    const untaggedName = tagged.slice(1, -1);
    const untagged = new FlowProducer({ connection: cluster, prefix: untaggedName });
    const flow = (id: string) => ({
      name: 'deactivate u1',
      queueName: queueNames.runs,
      opts: { jobId: `run-${id}` },
      children: [
        { name: 'revoke-tokens u1', queueName: queueNames.steps, opts: { jobId: `run-${id}-s` } },
      ],
    });
    try {
      const added = await flows.add(flow('a'));
      expect(added.job.id).toBe('run-a');
      await expect(untagged.add(flow('b'))).rejects.toThrow(/CROSSSLOT|same slot/i);
    } finally {
      await Promise.all([flows.close(), untagged.close()]);
      await deletePrefix(cluster, untaggedName);
    }
  });

  it('keeps the maintenance queue in a slot of its own, and finds and deletes keys on every master', async () => {
    const base = prefix();
    const runs = new Queue(queueNames.runs, { connection: cluster, prefix: base });
    const maintenancePrefix = queuePrefixFor(base, queueNames.maintenance);
    const maintenance = new Queue(queueNames.maintenance, {
      connection: cluster,
      prefix: maintenancePrefix,
    });
    try {
      await runs.add('x', {});
      await maintenance.add('y', {});
      expect(await cluster.cluster('KEYSLOT', `${base}:x`)).not.toBe(
        await cluster.cluster('KEYSLOT', `${maintenancePrefix}:x`),
      );
      const keys = await keysUnder(cluster, base);
      expect(keys.some((key) => key.startsWith(`${base}:${queueNames.runs}:`))).toBe(true);
      expect(keys.some((key) => key.startsWith(`${maintenancePrefix}:maintenance:`))).toBe(true);
      // A client that has not connected yet knows no masters: the scan must wait for it.
      const fresh = createRedisConnection(url, 'worker');
      try {
        expect((await keysUnder(fresh, base)).sort()).toEqual([...keys].sort());
      } finally {
        fresh.disconnect();
      }
      await deletePrefix(cluster, base);
      expect(await keysUnder(cluster, base)).toEqual([]);
    } finally {
      await Promise.all([runs.close(), maintenance.close()]);
    }
  });

  it('runs the lock (a compare-and-delete script) on the cluster', async () => {
    const locks = createRedisLock(cluster, { prefix: prefix() });
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        locks.run('team-1', async () => {
          inside += 1;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 20));
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
