import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Connection } from 'mongoose';
import { createApiKey } from '../../src/auth/api-key-repository';
import { connectMongo } from '../../src/infra/mongo-connection';
import { createModels, ensureIndexes, type Models } from '../../src/models/create-models';
import { runJobId, stepJobId } from '../../src/queues/job-ids';
import { queueNames } from '../../src/queues/queue-names';
import {
  deactivationApi,
  expectEffectsExactlyOnce,
  seedDepartingUser,
  seedE2eOrg,
  storedRun,
  type DeactivationApi,
  type E2eOrg,
} from '../support/e2e-fixtures';
import {
  isRunning,
  killService,
  startWorkerProcess,
  eventually,
  startServiceProcess,
  type ServiceProcess,
} from '../../test-kit/service-process';
import { freePort } from '../../test-kit/free-port';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';
import { mongoUrl, uniqueName } from '../support/test-env';

// Real processes (`start:api`, `start:worker`) on a Redis of this file's own (so FLUSHALL and
// kills are safe) and a database of its own on the shared store. docs/jobs.md: nothing is lost
// between MongoDB and Redis; workers shut down gracefully.

const dbName = uniqueName('e2elost');
const queuePrefix = uniqueName('q');
const transferIndex = 2; // steps[2] is transfer-opportunities

let redis: PrivateRedis;
let mongo: Connection;
let models: Models;
let org: E2eOrg;
let api: ServiceProcess;
let client: DeactivationApi;
let env: Record<string, string>;
const processes: ServiceProcess[] = [];

function processOutput(): string {
  return processes
    .map(
      (service, index) =>
        `--- process ${index} (pid ${service.child.pid ?? '?'}) ---\n${service.output()}`,
    )
    .join('\n');
}

/** SIGTERMs every worker process still running (the API, processes[0], stays). */
async function stopWorkers(): Promise<void> {
  for (const service of processes.slice(1).filter(isRunning)) {
    const stopped = service.stop('SIGTERM');
    const late = new Promise((resolve) => setTimeout(resolve, 20_000).unref());
    if ((await Promise.race([stopped, late.then(() => 'late')])) === 'late') {
      await killService(service);
    }
  }
}

async function startWorker(): Promise<ServiceProcess> {
  const worker = await startWorkerProcess(env);
  processes.push(worker);
  return worker;
}

/** Polls the API until the run is completed; a failed run or a timeout fails with every output. */
async function waitForCompletion(runId: string): Promise<void> {
  try {
    await eventually(
      async () => {
        const { status, body } = await client.getRun(runId);
        if (status !== 200) throw new Error(`GET run answered ${status}: ${JSON.stringify(body)}`);
        if (body?.status === 'failed') throw new Error(`the run failed: ${JSON.stringify(body)}`);
        return body?.status === 'completed';
      },
      60_000,
      `run ${runId} to complete`,
    );
  } catch (error) {
    const run = await models.deactivations.findById(runId).lean();
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\nrun: ${JSON.stringify(run)}\n${processOutput()}`,
      { cause: error },
    );
  }
}

/** Polls MongoDB until transfer-opportunities of the run is running. */
async function waitForTransferRunning(runId: string): Promise<void> {
  await eventually(
    async () => (await storedRun(models, runId)).steps[transferIndex]?.status === 'running',
    30_000,
    'transfer-opportunities to be running',
  );
}

/** BullMQ queues of the service on the private Redis, for assertions; closed by `use`'s end. */
async function withQueues<T>(
  use: (queues: { runs: Queue; steps: Queue; redis: Redis }) => Promise<T>,
): Promise<T> {
  const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
  // No meta write on open: it could land just after a FLUSHALL and leave a key behind.
  const options = { connection, prefix: queuePrefix, skipMetasUpdate: true };
  const runs = new Queue(queueNames.runs, options);
  const steps = new Queue(queueNames.steps, options);
  const plain = new Redis(redis.url, { maxRetriesPerRequest: null });
  try {
    return await use({ runs, steps, redis: plain });
  } finally {
    await Promise.all([runs.close(), steps.close()]);
    plain.disconnect();
  }
}

/** Nothing of the deactivation queues is active, waiting, delayed, failed or stalled. */
async function expectQueuesSettled(): Promise<void> {
  await withQueues(async ({ runs, steps, redis: plain }) => {
    for (const queue of [runs, steps]) {
      const counts = await queue.getJobCounts(
        'active',
        'waiting',
        'waiting-children',
        'delayed',
        'prioritized',
        'failed',
      );
      expect({ queue: queue.name, ...counts }).toEqual({
        queue: queue.name,
        active: 0,
        waiting: 0,
        'waiting-children': 0,
        delayed: 0,
        prioritized: 0,
        failed: 0,
      });
      expect(await plain.scard(`${queuePrefix}:${queue.name}:stalled`)).toBe(0);
    }
  });
}

beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  mongo = await connectMongo(mongoUrl, { dbName });
  models = createModels(mongo);
  await ensureIndexes(models);
  org = await seedE2eOrg(models);
  const { key } = await createApiKey(models, {
    name: 'e2e nothing lost',
    scopes: ['read', 'write'],
    orgIds: [org.orgId],
  });
  const storeUrl = new URL(mongoUrl);
  storeUrl.pathname = `/${dbName}`;
  env = {
    MONGO_URL: storeUrl.toString(),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'warn',
    WORKER_LOCK_DURATION_MS: '2000',
    RECONCILE_INTERVAL_MS: '1000',
    RECONCILE_GRACE_MS: '500',
  };
  api = await startServiceProcess('api-main', env, await freePort());
  processes.push(api);
  client = deactivationApi(api.baseUrl, key, org.orgId);
}, 60_000);

afterAll(async () => {
  for (const service of processes) await killService(service);
  await redis.kill();
  await mongo.dropDatabase();
  await mongo.close();
}, 30_000);

describe('nothing lost between MongoDB and Redis, with real processes', () => {
  // Each case owns the workers it starts; a case that failed half-way leaves none behind.
  beforeEach(stopWorkers, 30_000);

  it('completes a run exactly once when Redis is flushed after the API answered 202', async () => {
    const user = await seedDepartingUser(models, org, {
      tokens: 3,
      subscriptions: 2,
      opportunities: 5,
    });

    // No worker yet: the run's flow sits in Redis, then Redis loses everything.
    const accepted = await client.deactivate(user.userId, org.actorId);
    expect(accepted.status).toBe(202);
    const runId = accepted.body!.id!;
    await withQueues(async ({ runs, redis: plain }) => {
      expect(await (await runs.getJob(runJobId(runId)))?.getState()).toBe('waiting-children');
      await plain.flushall();
      expect(await plain.dbsize()).toBe(0);
      expect(await runs.getJob(runJobId(runId))).toBeUndefined();
    });
    expect((await storedRun(models, runId)).status).toBe('pending');

    // A worker starts: its reconciler (a job scheduler it upserts at start) re-queues the run.
    const worker = await startWorker();
    await waitForCompletion(runId);
    await expectEffectsExactlyOnce(models, org, user, runId);
    const run = await storedRun(models, runId);
    expect(run.steps.map((step) => step.attempts)).toEqual([1, 1, 1, 1, 1]);
    await withQueues(async ({ runs }) => {
      // The flow is back in the (flushed) Redis: the reconciler put it there.
      expect(await (await runs.getJob(runJobId(runId)))?.getState()).toBe('completed');
    });

    expect(await worker.stop('SIGTERM')).toBe(0);
    await expectQueuesSettled();
  }, 90_000);

  it('answers 503 naming the run when Redis is down at POST time, and completes it once Redis is back', async () => {
    const user = await seedDepartingUser(models, org, {
      tokens: 2,
      subscriptions: 1,
      opportunities: 3,
    });

    await redis.kill();
    let worker: ServiceProcess | undefined;
    let redisBack = false;
    try {
      await eventually(
        async () => (await fetch(`${api.baseUrl}/readyz`)).status === 503,
        10_000,
        'readyz 503 without Redis',
      );
      const refused = await client.deactivate(user.userId, org.actorId);
      expect(refused.status).toBe(503);
      expect(refused.body?.error?.code).toBe('service_unavailable');
      const runId = refused.body?.error?.details?.deactivationId;
      if (runId === undefined) throw new Error(`no deactivationId in ${JSON.stringify(refused)}`);

      // Recorded before it was queued: the run is in MongoDB and the user is already inactive.
      const pending = await storedRun(models, runId);
      expect(pending.status).toBe('pending');
      expect(pending.userId).toBe(user.userId);
      expect(pending.steps.map((step) => step.status)).toEqual([
        'pending',
        'pending',
        'pending',
        'pending',
        'pending',
      ]);
      expect(await models.users.findById(user.userId).lean()).toMatchObject({
        status: 'inactive',
        deactivationId: runId,
      });
      // The API still reads the run without Redis.
      const read = await client.getRun(runId);
      expect(read.status).toBe(200);
      expect(read.body?.status).toBe('pending');

      await redis.start();
      redisBack = true;
      worker = await startWorker();
      await waitForCompletion(runId);
      await expectEffectsExactlyOnce(models, org, user, runId);
    } finally {
      // Later cases need Redis and an API connected to it.
      if (!redisBack) await redis.start();
      await eventually(
        async () => (await fetch(`${api.baseUrl}/readyz`)).status === 200,
        15_000,
        'readyz 200 with Redis back',
      );
    }
    expect(await worker.stop('SIGTERM')).toBe(0);
    await expectQueuesSettled();
  }, 90_000);

  it('survives a worker SIGKILLed in the middle of transfer-opportunities without repeating effects', async () => {
    const user = await seedDepartingUser(models, org, {
      tokens: 4,
      subscriptions: 1,
      opportunities: 2500,
    });
    const doomed = await startWorker();

    const accepted = await client.deactivate(user.userId, org.actorId);
    expect(accepted.status).toBe(202);
    const runId = accepted.body!.id!;
    await waitForTransferRunning(runId);

    // revoke-tokens finished before transfer-opportunities began: remember what it wrote.
    const revokedBefore = await models.tokens.find({ userId: user.userId }).lean();
    expect(revokedBefore.map((token) => token.revokedByDeactivationId)).toEqual(
      user.tokenIds.map(() => runId),
    );
    const revokedAt = new Map(
      revokedBefore.map((token) => [token._id, token.revokedAt?.getTime()]),
    );

    await killService(doomed);
    const killed = await storedRun(models, runId);
    // The kill did land inside the step: it never recorded its completion.
    expect(killed.steps[transferIndex]?.status).toBe('running');
    expect(killed.status).toBe('running');

    // A new worker finds the step's job stalled (lock 2 s) and runs it again.
    const successor = await startWorker();
    await waitForCompletion(runId);
    await expectEffectsExactlyOnce(models, org, user, runId);

    const tokensAfter = await models.tokens.find({ userId: user.userId }).lean();
    expect(tokensAfter.map((token) => [token._id, token.revokedAt?.getTime()]).sort()).toEqual(
      [...revokedAt.entries()].sort(),
    );
    const run = await storedRun(models, runId);
    expect(run.steps[0]?.attempts).toBe(1);
    expect(run.steps[transferIndex]?.attempts).toBeGreaterThanOrEqual(2);
    expect(await successor.stop('SIGTERM')).toBe(0);
    await expectQueuesSettled();
  }, 90_000);

  it('lets a worker finish its active step on SIGTERM, exit 0 and leave no job active or stalled', async () => {
    const user = await seedDepartingUser(models, org, {
      tokens: 2,
      subscriptions: 1,
      opportunities: 2500,
    });
    const leaving = await startWorker();

    const accepted = await client.deactivate(user.userId, org.actorId);
    expect(accepted.status).toBe(202);
    const runId = accepted.body!.id!;
    await waitForTransferRunning(runId);

    const signalledAt = Date.now();
    const code = await leaving.stop('SIGTERM');
    const exitedAt = Date.now();
    expect({ code, output: code === 0 ? '' : leaving.output() }).toEqual({ code: 0, output: '' });

    // The step it was running finished in that process, during the shutdown, on its first
    // attempt: not released back to the queue, not left active or stalled. No other worker
    // ran meanwhile, so the completion recorded before the exit is the leaving worker's.
    const atExit = await storedRun(models, runId);
    const transfer = atExit.steps[transferIndex];
    expect(transfer).toMatchObject({ status: 'completed', attempts: 1 });
    const completedAt = transfer?.completedAt?.getTime() ?? 0;
    expect(completedAt).toBeGreaterThanOrEqual(signalledAt);
    expect(completedAt).toBeLessThanOrEqual(exitedAt);
    const transferJob = await withQueues(async ({ steps, redis: plain }) => {
      expect(await steps.getJobCounts('active')).toEqual({ active: 0 });
      expect(await plain.scard(`${queuePrefix}:${queueNames.steps}:stalled`)).toBe(0);
      const job = await steps.getJob(stepJobId(runId, 'transfer-opportunities'));
      return { state: await job?.getState(), finishedOn: job?.finishedOn ?? Infinity };
    });
    expect(transferJob.state).toBe('completed');
    expect(transferJob.finishedOn).toBeLessThanOrEqual(exitedAt);
    // The run itself is not finished: the steps after it were not taken by a closing worker.
    expect(atExit.status).toBe('running');

    const successor = await startWorker();
    await waitForCompletion(runId);
    await expectEffectsExactlyOnce(models, org, user, runId);
    const run = await storedRun(models, runId);
    expect(run.steps[transferIndex]?.attempts).toBe(1);
    expect(await successor.stop('SIGTERM')).toBe(0);
    await expectQueuesSettled();
  }, 90_000);
});
