import { once } from 'node:events';
import { FlowProducer, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { processBulkJob } from '../../src/bulk/process-bulk.job';
import { reconcileBulks } from '../../src/bulk/reconcile-bulks';
import { createRedisConnection, type RedisClient } from '../../src/infra/redis-connection';
import { createRedisLock } from '../../src/infra/redis-lock';
import { createLogger } from '../../src/logging/logger';
import type { BulkJobData } from '../../src/queues/bulk-queue';
import { queueNames, type QueueName } from '../../src/queues/queue-names';
import { recordSweepFailure } from '../../src/sweeps/record-sweep-outcome';
import { runSweepJob } from '../../src/sweeps/run-sweep.job';
import type { SweepJobData } from '../../src/sweeps/sweep-scheduler';
import type { SweepReport } from '../../src/models/sweep-report.model';
import type { User } from '../../src/models/user.model';
import type { ApiHarness } from '../support/api-harness';
import {
  openKeyedApi,
  runCounts,
  waitForBulkRuns,
  type JsonClient,
  type KeyedApi,
} from '../support/bulk-fixtures';
import { startTestWorkers } from '../support/run-helpers';
import {
  daysAgo,
  insertFixtures,
  orgFixture,
  seedStaffedOrg,
  sweepPolicyFixture,
  userFixture,
} from '../../test-kit/factories';
import { createPrivateRedis } from '../../test-kit/private-redis';
import { eventually } from '../../test-kit/service-process';

// A bulk or a sweep whose job fails for good is marked `failed`, with the error, instead of
// staying `running` (docs/sweeps-and-bulks.md, "When a bulk or a sweep fails"); retrying the job
// from the dashboard resumes it and clears the error.

let api: KeyedApi;
let h: ApiHarness;
let client: JsonClient;
let workers: { close: () => Promise<void> } | null = null;

beforeAll(async () => {
  api = await openKeyedApi('bulkfail');
  ({ h, client } = api);
});

afterAll(async () => {
  await stopWorkers();
  await api.close();
}, 30_000);

/** Starts the workers (once; later tests keep them): until then queued jobs wait. */
async function ensureWorkers(): Promise<void> {
  workers ??= await startTestWorkers(h.store, { QUEUE_PREFIX: h.config.queuePrefix });
}

async function stopWorkers(): Promise<void> {
  await workers?.close();
  workers = null;
}

interface BulkBody {
  id: string;
  status: string;
  enqueued: number;
  error: string | null;
  finishedAt: string | null;
}

async function waitForBulk(orgId: string, bulkId: string, status: string): Promise<BulkBody> {
  let body: BulkBody | null = null;
  await eventually(
    async () => {
      const res = await client.get(`/v1/orgs/${orgId}/bulk-deactivations/${bulkId}`);
      expect(res.status).toBe(200);
      body = res.body as BulkBody;
      return body.status === status;
    },
    30_000,
    `bulk ${bulkId} to be ${status}`,
  );
  return body!;
}

/** Polls the stored report (the API answers 404 while its organization is gone). */
async function waitForReport(sweepId: string, status: string): Promise<SweepReport> {
  let report: SweepReport | null = null;
  await eventually(
    async () => {
      report = await h.models.sweeps.findById(sweepId).lean();
      return report?.status === status;
    },
    30_000,
    `sweep ${sweepId} to be ${status}`,
  );
  return report!;
}

/** The report as GET /sweeps lists it. */
async function listedReport(orgId: string, sweepId: string): Promise<Record<string, unknown>> {
  const res = await client.get(`/v1/orgs/${orgId}/sweeps`);
  expect(res.status).toBe(200);
  return (res.body.items as { id: string }[]).find((item) => item.id === sweepId)!;
}

async function statusesOf(userIds: string[]): Promise<string[]> {
  const users = await h.models.users.find({ _id: { $in: userIds } }, { status: 1 }).lean();
  const byId = new Map(users.map((user) => [user._id, user.status]));
  return userIds.map((id) => byId.get(id) ?? 'missing');
}

/** A private Redis that refuses every write (`maxmemory` 1 byte, noeviction). */
async function openFullRedis(): Promise<{ connection: RedisClient; close: () => Promise<void> }> {
  const redis = await createPrivateRedis();
  await redis.start();
  const connection = createRedisConnection(redis.url, 'producer');
  const close = async (): Promise<void> => {
    connection.disconnect();
    await redis.kill();
  };
  try {
    // The producer connection has no offline queue: nothing may be sent before it is ready.
    if (connection.status !== 'ready') await once(connection, 'ready');
    await connection.config('SET', 'maxmemory', '1');
  } catch (error) {
    await close();
    throw error;
  }
  return { connection, close };
}

/**
 * Runs one job of `queue` in a worker of this test's own, with `processor`, until BullMQ fails it
 * for good; returns what `probe` saw at the start of each attempt.
 */
async function runUntilFailed(
  queue: QueueName,
  jobId: string,
  processor: (job: Job) => Promise<unknown>,
  probe: () => Promise<string | undefined>,
): Promise<(string | undefined)[]> {
  const seen: (string | undefined)[] = [];
  const connection = createRedisConnection(h.config.redisUrl, 'worker');
  const worker = new Worker(
    queue,
    async (job) => {
      seen.push(await probe());
      return processor(job);
    },
    { connection, prefix: h.config.queuePrefix, concurrency: 1 },
  );
  try {
    const waiting = new Queue(queue, { connection, prefix: h.config.queuePrefix });
    try {
      await eventually(
        async () => (await (await waiting.getJob(jobId))?.getState()) === 'failed',
        30_000,
        `job ${jobId} to fail for good`,
      );
    } finally {
      await waiting.close();
    }
  } finally {
    await worker.close();
    connection.disconnect();
  }
  return seen;
}

/** A staffed organization and a bulk of two of its members, accepted (202) through the API. */
async function acceptBulkOfTwo(): Promise<{
  orgId: string;
  admin: User;
  userIds: string[];
  bulkId: string;
}> {
  const { orgId, admin, users } = await seedStaffedOrg(h.models, (org) => [
    userFixture(org),
    userFixture(org),
  ]);
  const userIds = users.map((user) => user._id);
  const accepted = await client.post(`/v1/orgs/${orgId}/bulk-deactivations`, {
    actorId: admin._id,
    userIds,
  });
  expect(accepted.status).toBe(202);
  return { orgId, admin, userIds, bulkId: (accepted.body as BulkBody).id };
}

/** Retries a failed job, as the dashboard's retry button does. */
async function retryFailed(queue: Queue, jobId: string): Promise<void> {
  const job = await queue.getJob(jobId);
  expect(await job?.getState()).toBe('failed');
  await job!.retry('failed');
}

describe('a bulk whose job fails for good', () => {
  it('is marked failed with the error (not left running), and a retry resumes it', async () => {
    const { orgId, admin, userIds, bulkId } = await acceptBulkOfTwo();
    // Between acceptance and the job, the actor lost the right to deactivate: a refusal that is
    // not about the users, so the job fails for good (actor_not_allowed cannot heal by retrying).
    await h.models.users.updateOne({ _id: admin._id }, { $set: { status: 'inactive' } });
    await ensureWorkers();

    const failed = await waitForBulk(orgId, bulkId, 'failed');
    expect(failed.error).toMatch(/^actor_not_allowed: /);
    expect(failed.finishedAt).not.toBeNull();
    expect(await statusesOf(userIds)).toEqual(['active', 'active']);
    expect(await h.models.deactivations.countDocuments({ bulkId })).toBe(0);

    // The operator fixes the cause and retries the job: the bulk resumes from its items.
    await h.models.users.updateOne({ _id: admin._id }, { $set: { status: 'active' } });
    await retryFailed(h.producers.bulkQueue, `bulk-${bulkId}`);
    const completed = await waitForBulk(orgId, bulkId, 'completed');
    expect(completed).toMatchObject({ enqueued: 2, error: null });
    expect(await statusesOf(userIds)).toEqual(['inactive', 'inactive']);
  });
});

describe('a sweep that fails for good', () => {
  /** An organization with an admin who logs in and two dormant members, its sweep enabled. */
  async function seedSweptOrg(maxPerRun: number): Promise<{ orgId: string; userIds: string[] }> {
    const org = orgFixture({ sweepPolicy: sweepPolicyFixture({ inactiveDays: 30, maxPerRun }) });
    const dormant = [
      userFixture(org._id, { lastLoginAt: daysAgo(100) }),
      userFixture(org._id, { lastLoginAt: daysAgo(200) }),
    ];
    await insertFixtures(h.models, {
      organizations: [org],
      users: [userFixture(org._id, { role: 'admin', lastLoginAt: daysAgo(1) }), ...dormant],
    });
    return { orgId: org._id, userIds: dormant.map((user) => user._id) };
  }

  /** Queues a fire with `attempts` quick attempts (one: its first failure is its last). */
  async function fire(orgId: string, jobId: string, attempts = 1): Promise<Job<SweepJobData>> {
    const job: Job<SweepJobData> = await h.producers.sweepsQueue.add(
      `sweep ${orgId}`,
      { orgId } satisfies SweepJobData,
      { jobId, attempts, backoff: { type: 'fixed', delay: 10 } },
    );
    return job;
  }

  it('marks the report failed when its bulk fails, and completed when the bulk is retried', async () => {
    await stopWorkers();
    const { orgId, userIds } = await seedSweptOrg(1);
    const job = await fire(orgId, 'fire-bulk-fails');
    const deps = {
      models: h.models,
      bulkQueue: h.producers.bulkQueue,
      logger: createLogger({ logLevel: 'silent' }),
    };
    // Run by hand (no worker yet): two dormant users over maxPerRun 1, so it is held.
    await runSweepJob(job, deps);
    const sweepId = `${orgId}-fire-bulk-fails`;
    await waitForReport(sweepId, 'held');
    const approved = await client.post(
      `/v1/orgs/${orgId}/sweeps/${sweepId}/approve`,
      {},
      api.keys.admin,
    );
    expect(approved.status).toBe(200);
    // The organization's document goes away before the bulk's turn: not about any user.
    const org = await h.models.organizations.findById(orgId).lean();
    await h.models.organizations.deleteOne({ _id: orgId });
    await ensureWorkers();

    const failed = await waitForReport(sweepId, 'failed');
    expect(failed.error).toMatch(/^not_found: /);
    expect(failed.finishedAt).not.toBeNull();
    expect(failed.deactivated).toBe(0);
    expect(await statusesOf(userIds)).toEqual(['active', 'active']);

    await h.models.organizations.collection.insertOne(org as never);
    await retryFailed(h.producers.bulkQueue, `bulk-${failed.bulkId!}`);
    await waitForReport(sweepId, 'completed');
    expect(await listedReport(orgId, sweepId)).toMatchObject({
      status: 'completed',
      deactivated: 2,
      error: null,
    });
    expect(await statusesOf(userIds)).toEqual(['inactive', 'inactive']);
  });

  it('marks the report failed when the sweep job’s last attempt fails, and a retry finishes it', async () => {
    await stopWorkers();
    const { orgId, userIds } = await seedSweptOrg(100);
    const sweepId = `${orgId}-fire-queue-full`;
    await fire(orgId, 'fire-queue-full', 3);
    const logger = createLogger({ logLevel: 'silent' });
    // The bulk queue's Redis is full on every attempt: the first fails after writing the bulk,
    // the next two in taking it up again.
    const full = await openFullRedis();
    const bulkQueue = new Queue(queueNames.bulk, {
      connection: full.connection,
      prefix: h.config.queuePrefix,
    });
    let seenAtStart: (string | undefined)[];
    try {
      seenAtStart = await runUntilFailed(
        queueNames.sweeps,
        'fire-queue-full',
        (job) => runSweepJob(job as Job<SweepJobData>, { models: h.models, bulkQueue, logger }),
        async () => (await h.models.sweeps.findById(sweepId).lean())?.status,
      );
    } finally {
      await bulkQueue.close();
      await full.close();
    }
    // Not failed before the last attempt: the console would call it stopped.
    expect(seenAtStart).toEqual([undefined, 'running', 'running']);
    expect(await listedReport(orgId, sweepId)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^service_unavailable: .*OOM/) as unknown,
    });
    expect(await statusesOf(userIds)).toEqual(['active', 'active']);
    const failed = await h.models.sweeps.findById(sweepId).lean();
    expect(failed?.bulkId).not.toBeNull();

    // Retried in the dashboard, with Redis back: the fire takes its report up again and queues
    // the bulk it wrote.
    await ensureWorkers();
    await retryFailed(h.producers.sweepsQueue, 'fire-queue-full');
    const completed = await waitForReport(sweepId, 'completed');
    expect(completed).toMatchObject({ deactivated: 2, error: null, bulkId: failed?.bulkId });
    expect(await statusesOf(userIds)).toEqual(['inactive', 'inactive']);
  });
});

describe('a bulk whose job runs out of attempts', () => {
  it('stays running until its last attempt, is then failed, and a retry finishes its runs', async () => {
    await stopWorkers();
    const { orgId, userIds, bulkId } = await acceptBulkOfTwo();
    const jobId = `bulk-${bulkId}`;
    // The same job with three quick attempts instead of ten over minutes.
    await (await h.producers.bulkQueue.getJob(jobId))?.remove();
    await h.producers.bulkQueue.add(
      `bulk ${bulkId}`,
      { bulkId, orgId },
      { jobId, attempts: 3, backoff: { type: 'fixed', delay: 10 } },
    );
    // Redis refuses the runs' flows on every attempt (the runs are written, the users switched).
    const full = await openFullRedis();
    const flows = new FlowProducer({ connection: full.connection, prefix: h.config.queuePrefix });
    const locks = createRedisLock(h.redis, { prefix: h.config.queuePrefix });
    const logger = createLogger({ logLevel: 'silent' });
    let seenAtStart: (string | undefined)[];
    try {
      seenAtStart = await runUntilFailed(
        queueNames.bulk,
        jobId,
        (job) =>
          processBulkJob(job as Job<BulkJobData>, { models: h.models, flows, locks, logger }),
        async () => (await h.models.bulkDeactivations.findById(bulkId).lean())?.status,
      );
    } finally {
      await flows.close();
      await full.close();
    }
    expect(seenAtStart).toEqual(['pending', 'running', 'running']);
    const failed = await waitForBulk(orgId, bulkId, 'failed');
    expect(failed.error).toMatch(/^service_unavailable: /);

    await ensureWorkers();
    await retryFailed(h.producers.bulkQueue, jobId);
    const completed = await waitForBulk(orgId, bulkId, 'completed');
    expect(completed).toMatchObject({ enqueued: 2, error: null });
    await waitForBulkRuns(h.models, bulkId);
    expect(await runCounts(h.models, userIds)).toEqual(new Map(userIds.map((id) => [id, 1])));
  });
});

describe('the bulk reconciler', () => {
  const reconcile = (): ReturnType<typeof reconcileBulks> =>
    reconcileBulks(
      {
        models: h.models,
        bulkQueue: h.producers.bulkQueue,
        logger: createLogger({ logLevel: 'silent' }),
        onFailed: (failure) => recordSweepFailure(h.models, failure),
      },
      { graceMs: 0 },
    );

  it('re-queues a bulk whose job Redis lost, and the bulk completes', async () => {
    await stopWorkers();
    const { orgId, userIds, bulkId } = await acceptBulkOfTwo();
    // What a Redis that lost its data leaves: the bulk pending in MongoDB, no job.
    await (await h.producers.bulkQueue.getJob(`bulk-${bulkId}`))?.remove();
    expect(await reconcile()).toMatchObject({ requeued: 1, failed: 0 });
    // Queued once, however often the reconciler runs before a worker takes it.
    expect(await reconcile()).toMatchObject({ requeued: 0 });

    await ensureWorkers();
    expect(await waitForBulk(orgId, bulkId, 'completed')).toMatchObject({ enqueued: 2 });
    await waitForBulkRuns(h.models, bulkId);
    expect(await statusesOf(userIds)).toEqual(['inactive', 'inactive']);
  });

  it('marks failed a bulk whose job BullMQ failed without the job marking it', async () => {
    await stopWorkers();
    const { orgId, userIds, bulkId } = await acceptBulkOfTwo();
    // BullMQ fails a job that stalled too often itself: the processor never sees the failure.
    await runUntilFailed(
      queueNames.bulk,
      `bulk-${bulkId}`,
      () => Promise.reject(new UnrecoverableError('job stalled more than allowable limit')),
      () => Promise.resolve(undefined),
    );
    expect((await h.models.bulkDeactivations.findById(bulkId).lean())?.status).toBe('pending');

    expect(await reconcile()).toMatchObject({ failed: 1, requeued: 0 });
    const failed = await waitForBulk(orgId, bulkId, 'failed');
    expect(failed.error).toBe('internal: job stalled more than allowable limit');
    expect(await statusesOf(userIds)).toEqual(['active', 'active']);
    // Failed once: the next pass leaves it to the operator's retry.
    expect(await reconcile()).toMatchObject({ failed: 0, requeued: 0 });
  });
});
