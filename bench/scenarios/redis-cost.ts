import { randomUUID } from 'node:crypto';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ulid } from 'ulid';
import { buildPlan } from '../../src/domain/deactivation-plan';
import { runFlow } from '../../src/deactivation/deactivation-flow.job';
import { queueNames } from '../../src/queues/queue-names';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';
import { alternate, newTag, openStore, sleep, waitFor, withDriver } from '../support/common';
import { row, type Row } from '../support/sampled-row';
import { seedDepartingUsers, seedOrg, type UserSize, benchApiKey } from '../support/fixtures';
import { postDeactivation, startApi, startWorker, type BenchProcess } from '../support/stack';
import { verifyDeactivations, type DoneRun } from '../support/verify-writes';

const prefix = 'offboard';

/** What one Redis holds and has done since the last CONFIG RESETSTAT. */
interface Snapshot {
  /** Commands served (INFO commandstats), without the bench's own INFO and CONFIG calls. */
  commands: number;
  usedMemory: number;
  byCommand: Record<string, number>;
}

async function snapshot(redis: Redis): Promise<Snapshot> {
  // Let replies and client buffers settle before reading memory.
  await sleep(300);
  const [stats, memory] = await Promise.all([redis.info('commandstats'), redis.info('memory')]);
  const byCommand: Record<string, number> = {};
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const [, name = '', calls = '0'] = match;
    if (name === 'info' || name === 'config') continue;
    byCommand[name] = Number(calls);
  }
  const usedMemory = Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? NaN);
  const commands = Object.values(byCommand).reduce((sum, calls) => sum + calls, 0);
  return { commands, usedMemory, byCommand };
}

/** The three moments of a measurement: before, with every flow pending, with every run done. */
interface Measurement {
  base: Snapshot;
  pending: Snapshot;
  completed: Snapshot;
}

/**
 * Pauses the two deactivation queues (every process already connected and idle), resets the
 * statistics, adds `runs` deactivations through `enqueue`, then resumes and waits for `done`.
 */
async function measure(
  redisUrl: string,
  runs: number,
  enqueue: (index: number) => Promise<void>,
  done: () => Promise<boolean>,
): Promise<Measurement> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queues = [queueNames.runs, queueNames.steps].map(
    (name) => new Queue(name, { connection: client, prefix }),
  );
  try {
    await Promise.all(queues.map((queue) => queue.pause()));
    await sleep(500);
    await client.config('RESETSTAT');
    const base = await snapshot(client);
    for (let index = 0; index < runs; index += 1) await enqueue(index);
    const pending = await snapshot(client);
    await Promise.all(queues.map((queue) => queue.resume()));
    await waitFor(done, 'every run to complete', 600_000, 50);
    const completed = await snapshot(client);
    return { base, pending, completed };
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
    client.disconnect();
  }
}

async function privateRedis(): Promise<PrivateRedis> {
  const redis = await createPrivateRedis();
  await redis.start();
  return redis;
}

/** offboard: the API and worker processes on a private Redis, deactivations over HTTP. */
async function offboardCost(
  runs: number,
  concurrency: number,
  size: UserSize,
): Promise<Measurement> {
  const redis = await privateRedis();
  const store = await openStore(`bench_redis_${newTag()}`);
  const processes: BenchProcess[] = [];
  try {
    const org = await seedOrg(store.models, `org_bench_${newTag()}`);
    const users = await seedDepartingUsers(store.models, org, runs, size);
    const key = await benchApiKey(store.models, org.orgId);
    const options = {
      mongoUrl: store.url,
      redisUrl: redis.url,
      prefix,
      concurrency,
      cpuProfDir: null,
    };
    const api = await startApi(options);
    processes.push(api);
    processes.push(await startWorker(options));
    const done: DoneRun[] = [];
    const measurement = await measure(
      redis.url,
      runs,
      async (index) => {
        const user = users[index];
        if (!user) throw new Error('no user left to deactivate');
        const runId = await postDeactivation(api.baseUrl, key, org.orgId, {
          userId: user.userId,
          actorId: org.adminId,
        });
        done.push({ user, runId });
      },
      async () =>
        (await store.models.deactivations.countDocuments({ status: 'completed' })) >= runs,
    );
    await withDriver(store, (db) => verifyDeactivations(db, org, done, 'offboard'));
    return measurement;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await store.drop();
    await redis.kill();
  }
}

/**
 * The floor: the very flow offboard adds (src/deactivation/deactivation-flow.job.ts runFlow: a parent and
 * its five step jobs, same names, data, job ids and options), added with a FlowProducer and run
 * by workers with no-op processors at the same concurrency, on a private Redis.
 */
async function floorCost(runs: number, concurrency: number): Promise<Measurement> {
  const redis = await privateRedis();
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const flows = new FlowProducer({ connection, prefix });
  let completedRuns = 0;
  const workers = [
    new Worker(queueNames.runs, () => Promise.resolve(null), { connection, prefix, concurrency }),
    new Worker(queueNames.steps, () => Promise.resolve(null), { connection, prefix, concurrency }),
  ];
  workers[0]?.on('completed', () => (completedRuns += 1));
  try {
    await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    const plan = buildPlan({
      userKind: 'employee',
      allowReactivationOnPurchase: false,
      cutoff: new Date(),
      target: { to: 'usr_leader', teamId: 'team_1' },
      teamIds: ['team_1'],
      counts: {
        'revoke-tokens': 10,
        'cancel-subscriptions': 2,
        'transfer-opportunities': 10,
        'remove-from-teams': 1,
        'blocklist-email': 1,
      },
    });
    return await measure(
      redis.url,
      runs,
      async (index) => {
        const run = { _id: ulid(), orgId: 'org_bench', userId: `usr_bench_${index}`, plan };
        await flows.add(runFlow(run, randomUUID()));
      },
      () => Promise.resolve(completedRuns >= runs),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    await flows.close();
    connection.disconnect();
    await redis.kill();
  }
}

export interface RedisCostRaw {
  runs: number;
  samples: number;
  offboard: Measurement[];
  floor: Measurement[];
}

export async function redisCostScenario(options: {
  runs: number;
  concurrency: number;
  samples: number;
  size: UserSize;
}): Promise<{ rows: Row[]; raw: RedisCostRaw }> {
  const { runs, concurrency } = options;
  const measured = await alternate(
    options.samples,
    () => offboardCost(runs, concurrency, options.size),
    () => floorCost(runs, concurrency),
  );
  const per = (
    m: Measurement,
    phase: 'pending' | 'completed',
    what: 'commands' | 'memory',
  ): number =>
    what === 'commands'
      ? (m[phase].commands - m.base.commands) / runs
      : (m[phase].usedMemory - m.base.usedMemory) / runs;
  const targets = {
    commands: { unit: 'cmds', limit: 1.1 },
    memory: { unit: 'bytes', limit: 1.2 },
  } as const;
  return {
    rows: (['commands', 'memory'] as const).flatMap((what) =>
      (['pending', 'completed'] as const).map((phase) =>
        row(
          'Redis cost',
          `${what} per deactivation, ${phase}`,
          targets[what].unit,
          measured.offboard.map((m) => per(m, phase, what)),
          measured.floor.map((m) => per(m, phase, what)),
          '<=',
          targets[what].limit,
        ),
      ),
    ),
    raw: { runs, samples: options.samples, ...measured },
  };
}
