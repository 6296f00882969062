import { Queue, type Job } from 'bullmq';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { createLogger } from '../../src/logging/logger';
import { queueNames } from '../../src/queues/queue-names';
import { runSweepJob } from '../../src/sweeps/run-sweep.job';
import type { SweepJobData } from '../../src/sweeps/sweep-scheduler';
import type { SweepReport } from '../../src/models/sweep-report.model';
import type { ApiHarness } from '../support/api-harness';
import { openKeyedApi, type JsonClient, type KeyedApi } from '../support/bulk-fixtures';
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

/** Retries a failed job, as the dashboard's retry button does. */
async function retryFailed(queue: Queue, jobId: string): Promise<void> {
  const job = await queue.getJob(jobId);
  expect(await job?.getState()).toBe('failed');
  await job!.retry('failed');
}

describe('a bulk whose job fails for good', () => {
  it('is marked failed with the error (not left running), and a retry resumes it', async () => {
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
    const bulkId = (accepted.body as BulkBody).id;
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

  /** Queues a fire with one attempt, so its first failure is its last. */
  async function fire(orgId: string, jobId: string): Promise<Job<SweepJobData>> {
    const job: Job<SweepJobData> = await h.producers.sweepsQueue.add(
      `sweep ${orgId}`,
      { orgId } satisfies SweepJobData,
      { jobId, attempts: 1 },
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

  it('marks the report failed when the sweep job itself fails, and a retry finishes it', async () => {
    // No worker, so that only this test runs the fire.
    await stopWorkers();
    const { orgId, userIds } = await seedSweptOrg(100);
    const job = await fire(orgId, 'fire-queue-down');
    const logger = createLogger({ logLevel: 'silent' });
    // The bulk queue's Redis is full (noeviction) when the sweep hands its selection over.
    const redis = await createPrivateRedis();
    await redis.start();
    const connection = createRedisConnection(redis.url, 'producer');
    const bulkQueue = new Queue(queueNames.bulk, { connection, prefix: h.config.queuePrefix });
    try {
      await bulkQueue.waitUntilReady();
      await connection.config('SET', 'maxmemory', '1');
      await expect(runSweepJob(job, { models: h.models, bulkQueue, logger })).rejects.toThrow(
        /OOM/,
      );
    } finally {
      await bulkQueue.close();
      await connection.quit();
      await redis.kill();
    }
    const sweepId = `${orgId}-fire-queue-down`;
    await waitForReport(sweepId, 'failed');
    expect(await listedReport(orgId, sweepId)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^service_unavailable: /) as unknown,
    });
    expect(await statusesOf(userIds)).toEqual(['active', 'active']);
    const failed = await h.models.sweeps.findById(sweepId).lean();

    // Retried (Redis back): the same fire takes its report up again and queues its bulk.
    await ensureWorkers();
    await runSweepJob(job, { models: h.models, bulkQueue: h.producers.bulkQueue, logger });
    const completed = await waitForReport(sweepId, 'completed');
    expect(completed).toMatchObject({ deactivated: 2, error: null, bulkId: failed?.bulkId });
    expect(await statusesOf(userIds)).toEqual(['inactive', 'inactive']);
  });
});
