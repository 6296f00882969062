import { FlowProducer, Queue } from 'bullmq';
import { requestDeactivation } from '../../src/deactivation/request-deactivation';
import { createRedisConnection, type RedisClient } from '../../src/infra/redis-connection';
import { createRedisLock } from '../../src/infra/redis-lock';
import type { SweepPolicy } from '../../src/models/organization.model';
import { runJobId } from '../../src/queues/job-ids';
import { queueNames, queuePrefixFor } from '../../src/queues/queue-names';
import { sweepSchedulerId } from '../../src/sweeps/sweep-scheduler';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  sweepPolicyFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';
import { startTestWorkers, waitForRunStatus } from '../support/run-helpers';
import { eventually } from '../../test-kit/service-process';
import { openTestStore, type TestStore } from '../support/test-env';

// A Redis that loses its data without restarting (FLUSHALL, a failover to an empty replica)
// gives the workers no reconnect to react to. The reconciler that re-queues lost runs is itself
// a job scheduler in Redis, so each worker re-creates the schedulers on a timer of its own.

let redis: PrivateRedis;
let store: TestStore;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;
let producer: RedisClient;
let flows: FlowProducer;
let steps: Queue;
let maintenance: Queue;
let sweeps: Queue;

const policy = (overrides: Partial<SweepPolicy> = {}): SweepPolicy =>
  sweepPolicyFixture({
    // Never fires during the test: only the schedule's presence is under test.
    cron: '0 0 1 1 *',
    timezone: 'Europe/Paris',
    dryRun: true,
    ...overrides,
  });

beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  store = await openTestStore('upkeep');
  workers = await startTestWorkers(store, {
    REDIS_URL: redis.url,
    RECONCILE_INTERVAL_MS: '1000',
    RECONCILE_GRACE_MS: '0',
    SCHEDULER_CHECK_INTERVAL_MS: '1000',
  });
  const prefix = workers.config.queuePrefix;
  producer = createRedisConnection(redis.url, 'producer');
  flows = new FlowProducer({ connection: producer, prefix });
  steps = new Queue(queueNames.steps, { connection: producer, prefix });
  maintenance = new Queue(queueNames.maintenance, {
    connection: producer,
    prefix: queuePrefixFor(prefix, queueNames.maintenance),
  });
  sweeps = new Queue(queueNames.sweeps, { connection: producer, prefix });
}, 30_000);

afterAll(async () => {
  await workers.close();
  await Promise.all([flows.close(), steps.close(), maintenance.close(), sweeps.close()]);
  producer.disconnect();
  await redis.kill();
  await store.close();
}, 30_000);

describe('job schedulers after Redis lost its data without a restart', () => {
  it('re-creates the reconciler, which completes a run accepted before FLUSHALL', async () => {
    const { models } = store;
    const org = orgFixture();
    const actor = userFixture(org._id, { role: 'admin' });
    const other = userFixture(org._id, { role: 'admin' });
    const user = userFixture(org._id);
    await insertFixtures(models, {
      organizations: [org],
      users: [actor, other, user],
      tokens: [tokenFixture(org._id, user._id), tokenFixture(org._id, user._id)],
      subscriptions: [subscriptionFixture(org._id, user._id)],
      opportunities: [opportunityFixture(org._id, user._id)],
    });
    expect(await maintenance.getJobScheduler('reconcile-runs')).toMatchObject({ every: 1000 });

    // Paused, so the run is still queued when Redis loses it (FLUSHALL clears the pause too).
    await steps.pause();
    const run = await requestDeactivation(
      { models, flows, locks: createRedisLock(producer, { prefix: workers.config.queuePrefix }) },
      { orgId: org._id, userId: user._id, actorId: actor._id, source: 'api', reason: 'left' },
    );
    const flow = await flows.getFlow({ id: runJobId(run._id), queueName: queueNames.runs });
    expect(await flow.job.getState()).toBe('waiting-children');
    await producer.flushall();
    expect(await maintenance.getJobScheduler('reconcile-runs')).toBeUndefined();

    // No restart, so no reconnect: only the workers' own timer brings the reconciler back.
    const completed = await waitForRunStatus(models, run._id, 'completed', 20_000);
    expect(completed.steps.map((step) => step.status)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    expect(await maintenance.getJobScheduler('reconcile-runs')).toMatchObject({ every: 1000 });
    expect(await maintenance.getJobScheduler('expire-idempotency-records')).toBeDefined();
  }, 40_000);

  it('re-creates enabled sweep policies from MongoDB, and follows a cron Redis missed', async () => {
    const enabled = orgFixture({ sweepPolicy: policy() });
    const disabled = orgFixture({ sweepPolicy: policy({ enabled: false }) });
    await insertFixtures(store.models, { organizations: [enabled, disabled] });
    await eventually(
      async () => (await sweeps.getJobScheduler(sweepSchedulerId(enabled._id))) !== undefined,
      10_000,
      'the new policy to be scheduled by the periodic check',
    );

    await producer.flushall();
    expect(await sweeps.getJobScheduler(sweepSchedulerId(enabled._id))).toBeUndefined();
    await eventually(
      async () => (await sweeps.getJobScheduler(sweepSchedulerId(enabled._id))) !== undefined,
      10_000,
      'the sweep scheduler to be re-created after FLUSHALL',
    );
    expect(await sweeps.getJobScheduler(sweepSchedulerId(enabled._id))).toMatchObject({
      pattern: '0 0 1 1 *',
      tz: 'Europe/Paris',
      name: `sweep ${enabled._id}`,
    });
    expect(await sweeps.getJobScheduler(sweepSchedulerId(disabled._id))).toBeUndefined();

    // The policy changed in MongoDB while its write to Redis was lost: the check catches up.
    await store.models.organizations.updateOne(
      { _id: enabled._id },
      { $set: { 'sweepPolicy.cron': '30 3 * * 1' } },
    );
    await eventually(
      async () =>
        (await sweeps.getJobScheduler(sweepSchedulerId(enabled._id)))?.pattern === '30 3 * * 1',
      10_000,
      'the scheduler to follow the stored cron',
    );
  }, 40_000);
});
