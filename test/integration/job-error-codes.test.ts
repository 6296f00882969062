import { Queue } from 'bullmq';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { queueNames, queuePrefixFor, type QueueName } from '../../src/queues/queue-names';
import { insertFixtures, newId, orgFixture, userFixture } from '../../test-kit/factories';
import { until } from '../support/lifecycle-harness';
import { startTestWorkers } from '../support/run-helpers';
import { deletePrefix } from '../../test-kit/redis-keys';
import { openTestRedis, openTestStore, redisUrl, type TestStore } from '../support/test-env';
import type { RedisClient } from '../../src/infra/redis-connection';

let store: TestStore;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;
let producer: RedisClient;
const queues = new Map<QueueName, Queue>();

beforeAll(async () => {
  store = await openTestStore('jobcodes');
  workers = await startTestWorkers(store);
  producer = createRedisConnection(redisUrl, 'producer');
  for (const name of Object.values(queueNames)) {
    const prefix = queuePrefixFor(workers.config.queuePrefix, name);
    queues.set(name, new Queue(name, { connection: producer, prefix }));
  }
});

afterAll(async () => {
  await workers.close();
  await Promise.all([...queues.values()].map((queue) => queue.close()));
  producer.disconnect();
  const redis = openTestRedis();
  await deletePrefix(redis, workers.config.queuePrefix);
  redis.disconnect();
  await store.close();
});

/** Adds a job with retries to spare and returns how it failed: at once, with which reason. */
async function failureOf(queueName: QueueName, name: string, data: object) {
  const queue = queues.get(queueName)!;
  const job = await queue.add(name, data, { attempts: 5, backoff: { type: 'fixed', delay: 10 } });
  // The state first, then the job: a job read while still active would show no attempt yet.
  const failed = await until(
    async () =>
      (await queue.getJobState(job.id!)) === 'failed' ? await queue.getJob(job.id!) : undefined,
    `job ${name} on ${queueName} to fail`,
  );
  return { attemptsMade: failed.attemptsMade, failedReason: failed.failedReason };
}

describe('jobs that cannot succeed fail at once, with a code that says why', () => {
  it('a run that does not exist: run_not_found, for the parent and for a step', async () => {
    const ids = { runId: newId('run'), orgId: newId('org'), userId: newId('usr') };
    expect(await failureOf(queueNames.runs, `deactivate ${ids.userId}`, ids)).toEqual({
      attemptsMade: 1,
      failedReason: `run_not_found: Run ${ids.runId} does not exist`,
    });
    expect(
      await failureOf(queueNames.steps, `revoke-tokens ${ids.userId}`, {
        ...ids,
        step: 'revoke-tokens',
      }),
    ).toEqual({ attemptsMade: 1, failedReason: `run_not_found: Run ${ids.runId} does not exist` });
  });

  it('a step job naming no known step: invalid_step_data', async () => {
    const ids = { runId: newId('run'), orgId: newId('org'), userId: newId('usr') };
    expect(
      await failureOf(queueNames.steps, `revoke-tokens ${ids.userId}`, { ...ids, step: 'nope' }),
    ).toEqual({ attemptsMade: 1, failedReason: 'invalid_step_data: Step "nope" does not exist' });
  });

  it('a bulk that does not exist: bulk_not_found', async () => {
    const bulkId = newId('bulk');
    expect(await failureOf(queueNames.bulk, `bulk ${bulkId}`, { bulkId, orgId: 'org' })).toEqual({
      attemptsMade: 1,
      failedReason: `bulk_not_found: Bulk deactivation ${bulkId} does not exist`,
    });
  });

  it('erasing a user who does not exist, or is not deleted: user_not_found, user_not_deleted', async () => {
    const org = orgFixture();
    const active = userFixture(org._id);
    await insertFixtures(store.models, { organizations: [org], users: [active] });
    const missing = newId('usr');
    expect(
      await failureOf(queueNames.erasures, `erase ${missing}`, { orgId: org._id, userId: missing }),
    ).toEqual({
      attemptsMade: 1,
      failedReason: `user_not_found: User ${missing} does not exist`,
    });
    expect(
      await failureOf(queueNames.erasures, `erase ${active._id}`, {
        orgId: org._id,
        userId: active._id,
      }),
    ).toEqual({
      attemptsMade: 1,
      failedReason: `user_not_deleted: User ${active._id} is not deleted; nothing was erased`,
    });
    expect(await store.models.users.findById(active._id).lean()).toMatchObject({
      email: active.email,
    });
  });

  it('a job whose data does not parse: invalid_job_data, naming each bad field, before its handler runs', async () => {
    const bulkId = newId('bulk');
    expect(await failureOf(queueNames.bulk, `bulk ${bulkId}`, { orgId: 42 })).toEqual({
      attemptsMade: 1,
      failedReason: expect.stringMatching(
        new RegExp(
          `^invalid_job_data: Job "bulk ${bulkId}" has invalid data: bulkId: .+; orgId: .+`,
        ),
      ) as unknown,
    });
  });

  it('a job of a kind no handler takes: no_job_handler', async () => {
    expect(await failureOf(queueNames.maintenance, 'vacuum-everything', {})).toEqual({
      attemptsMade: 1,
      failedReason:
        'no_job_handler: No handler for job "vacuum-everything" (vacuum-everything) on queue "maintenance"',
    });
  });
});
