import { Queue, Worker, type Job } from 'bullmq';
import mongoose from 'mongoose';
import { createLogger } from '../../src/logging/logger';
import { createServiceMetrics } from '../../src/metrics/service-metrics';
import type { DeliveryJobData } from '../../src/queues/job-kinds';
import { createAddressPolicy } from '../../src/webhooks/address-policy';
import { deliverWebhookJob } from '../../src/webhooks/deliver-webhook.job';
import { createGuardedDispatcher } from '../../src/webhooks/guarded-dispatcher';
import { webhookBackoff } from '../../src/webhooks/webhook-backoff';
import { queueNames, queuePrefixFor } from '../../src/queues/queue-names';
import { webhookEventId, recordEvent } from '../../src/webhooks/record-event';
import { reconcileDeliveries } from '../../src/webhooks/reconcile-deliveries';
import { relayDeliveries } from '../../src/webhooks/relay-deliveries';
import { insertFixtures, newId, orgFixture } from '../../test-kit/factories';
import { openWebhookReceiver } from '../../test-kit/webhook-receiver';
import { openTestRedis } from '../support/test-env';
import { openWebhookHarness, until, type WebhookHarness } from '../support/webhook-harness';

let t: WebhookHarness;
let queue: Queue;
const redis = openTestRedis();
const logger = createLogger({ logLevel: 'silent' });

beforeAll(async () => {
  // No workers: the test moves the relay and the reconciler by hand.
  t = await openWebhookHarness('wh-reconcile', undefined, { workers: false });
  queue = new Queue(queueNames.webhooks, {
    connection: redis,
    prefix: queuePrefixFor(t.h.config.queuePrefix, queueNames.webhooks),
  });
});

afterAll(async () => {
  await queue.close();
  await redis.quit();
  await t.close();
});

const deps = () => ({ models: t.h.models, queue, logger, retries: 4 });

/** The `user.deleted` fact of `userId` in `orgId`, as the erasure job records it. */
const userDeleted = (orgId: string, userId: string) => ({
  type: 'user.deleted' as const,
  orgId,
  factId: userId,
  at: new Date(),
  data: { userId },
});

/** A new organization with one endpoint (a closed port) subscribed to `events`; its id. */
async function orgWithEndpoint(events: string[]): Promise<string> {
  const org = orgFixture();
  await insertFixtures(t.h.models, { organizations: [org] });
  const created = await t.call('post', `/v1/orgs/${org._id}/webhooks`, {
    url: 'http://127.0.0.1:9/hook',
    events,
  });
  expect(created.status).toBe(201);
  return org._id;
}

describe('nothing lost between MongoDB and Redis', () => {
  it('queues each delivery once, and again after Redis lost its job', async () => {
    const orgId = await orgWithEndpoint(['user.deleted']);
    const userId = newId('usr');
    const fact = userDeleted(orgId, userId);
    await recordEvent(t.h.models, fact);
    await recordEvent(t.h.models, fact);
    const eventId = webhookEventId('user.deleted', userId);
    const [delivery] = await t.h.models.webhookDeliveries.find({ eventId }).lean();
    expect(await t.h.models.webhookDeliveries.countDocuments({ eventId })).toBe(1);
    if (!delivery) throw new Error('no delivery');

    expect(await relayDeliveries(deps())).toBe(1);
    expect(await relayDeliveries(deps())).toBe(0);
    expect(await queue.getJobState(delivery._id)).toBe('waiting');

    // Redis loses the job (a restart without persistence, a FLUSHALL).
    await (await queue.getJob(delivery._id))?.remove();
    expect(await queue.getJob(delivery._id)).toBeUndefined();
    // Within the grace period the reconciler leaves it alone, after it re-queues it.
    expect(await reconcileDeliveries(deps(), { graceMs: 60_000 })).toMatchObject({ requeued: 0 });
    expect(await reconcileDeliveries(deps(), { graceMs: 0 })).toMatchObject({ requeued: 1 });
    expect(await queue.getJobState(delivery._id)).toBe('waiting');
    // A live job is not added twice.
    expect(await reconcileDeliveries(deps(), { graceMs: 0 })).toMatchObject({ requeued: 0 });
  });

  it('fans out an event whose recording stopped half-way', async () => {
    const orgId = await orgWithEndpoint(['sweep.held']);
    const sweepId = newId('sweep');
    // The event is stored; the process stopped before its deliveries.
    await t.h.models.webhookEvents.insertMany([
      {
        _id: webhookEventId('sweep.held', sweepId),
        orgId,
        type: 'sweep.held',
        timestamp: new Date(Date.now() - 1_000),
        data: { sweepId },
        fannedOutAt: null,
      },
    ]);
    expect(await reconcileDeliveries(deps(), { graceMs: 0 })).toMatchObject({ fannedOut: 1 });
    expect(
      await t.h.models.webhookDeliveries.countDocuments({
        eventId: webhookEventId('sweep.held', sweepId),
      }),
    ).toBe(1);
    expect(await reconcileDeliveries(deps(), { graceMs: 0 })).toMatchObject({ fannedOut: 0 });
  });

  it('never undoes a delivery its job recorded: the relay marks a batch before queueing it', async () => {
    const receiver = await openWebhookReceiver();
    const config = t.h.config.webhooks;
    const dispatcher = createGuardedDispatcher(createAddressPolicy(config.allowedAddresses), {
      connectTimeoutMs: config.timeoutMs,
    });
    const workerRedis = openTestRedis();
    const seenAtStart: (Date | null)[] = [];
    const worker = new Worker(
      queueNames.webhooks,
      async (job: Job<DeliveryJobData>) => {
        const delivery = await t.h.models.webhookDeliveries.findById(job.data.deliveryId).lean();
        seenAtStart.push(delivery?.queuedAt ?? null);
        return deliverWebhookJob(job, {
          models: t.h.models,
          logger,
          metrics: createServiceMetrics([]),
          config,
          dispatcher,
        });
      },
      {
        connection: workerRedis,
        prefix: queuePrefixFor(t.h.config.queuePrefix, queueNames.webhooks),
        concurrency: 8,
        settings: { backoffStrategy: webhookBackoff(config.retryScheduleMs) },
      },
    );
    try {
      const org = orgFixture();
      const orgId = org._id;
      await insertFixtures(t.h.models, { organizations: [org] });
      const created = await t.call('post', `/v1/orgs/${orgId}/webhooks`, {
        url: receiver.url('/relay'),
        events: ['user.deleted'],
      });
      expect(created.status).toBe(201);
      receiver.secrets.push((created.body as { secret: string }).secret);
      const facts = Array.from({ length: 150 }, () => newId('usr'));
      for (const userId of facts) {
        await recordEvent(t.h.models, userDeleted(orgId, userId));
      }

      // A real queue that also notes, as each batch is added, whether its deliveries already
      // read as queued in MongoDB.
      const unmarkedWhenQueued: string[] = [];
      const models = t.h.models;
      class ObservedQueue extends Queue {
        override async addBulk(jobs: Parameters<Queue['addBulk']>[0]) {
          const ids = jobs.map((job) => (job.data as DeliveryJobData).deliveryId);
          const marked = await models.webhookDeliveries
            .find({ _id: { $in: ids }, queuedAt: { $ne: null } }, { _id: 1 })
            .lean();
          const markedIds = new Set(marked.map((delivery) => delivery._id));
          unmarkedWhenQueued.push(...ids.filter((id) => !markedIds.has(id)));
          return super.addBulk(jobs);
        }
      }
      const observed = new ObservedQueue(queueNames.webhooks, {
        connection: redis,
        prefix: queuePrefixFor(t.h.config.queuePrefix, queueNames.webhooks),
      });
      // The earlier tests' pending deliveries go too: at least these 150.
      expect(
        await relayDeliveries({ ...deps(), queue: observed }).finally(() => observed.close()),
      ).toBeGreaterThanOrEqual(facts.length);
      expect(unmarkedWhenQueued).toEqual([]);
      await until(() => receiver.received.length >= facts.length, 20_000);
      await until(
        async () => (await queue.getJobCounts('active', 'waiting')).active === 0,
        20_000,
        () => queue.getJobCounts(),
      );
      // Every job found its delivery already marked: no mark can land after its record.
      expect(seenAtStart.filter((queuedAt) => queuedAt === null)).toEqual([]);
      const left = await t.h.models.webhookDeliveries
        .find({ orgId, status: { $ne: 'delivered' } }, { status: 1, attempts: 1 })
        .lean();
      expect(left).toEqual([]);
      expect(await relayDeliveries(deps())).toBe(0);
    } finally {
      await worker.close();
      await workerRedis.quit();
      await dispatcher.close();
      await receiver.close();
    }
  });

  it('writes nothing for the event of an organization with no subscribed endpoint', async () => {
    // An endpoint for another type only.
    const orgId = await orgWithEndpoint(['sweep.held']);
    const userId = newId('usr');
    const writes: string[] = [];
    mongoose.set('debug', (collection: string, method: string) => {
      if (collection === 'webhookEvents' || collection === 'webhookDeliveries') {
        writes.push(`${collection}.${method}`);
      }
    });
    try {
      await recordEvent(t.h.models, userDeleted(orgId, userId));
    } finally {
      mongoose.set('debug', false);
    }
    expect(writes).toEqual([]);
    expect(
      await t.h.models.webhookEvents.findById(webhookEventId('user.deleted', userId)).lean(),
    ).toBeNull();
    expect(await t.h.models.webhookDeliveries.countDocuments({ orgId })).toBe(0);
    expect(await reconcileDeliveries(deps(), { graceMs: 0 })).toMatchObject({ fannedOut: 0 });
  });
});
