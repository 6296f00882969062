import { Queue } from 'bullmq';
import { createLogger } from '../../src/logging/logger';
import { queueNames, queuePrefixFor } from '../../src/queues/queue-names';
import { webhookEventId, recordEvent } from '../../src/webhooks/record-event';
import { reconcileDeliveries } from '../../src/webhooks/reconcile-deliveries';
import { relayDeliveries } from '../../src/webhooks/relay-deliveries';
import { insertFixtures, newId, orgFixture } from '../../test-kit/factories';
import { openTestRedis } from '../support/test-env';
import { openWebhookHarness, type WebhookHarness } from '../support/webhook-harness';

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

describe('nothing lost between MongoDB and Redis', () => {
  it('queues each delivery once, and again after Redis lost its job', async () => {
    const org = orgFixture();
    await insertFixtures(t.h.models, { organizations: [org] });
    const created = await t.call('post', `/v1/orgs/${org._id}/webhooks`, {
      url: 'http://127.0.0.1:9/hook',
      events: ['user.deleted'],
    });
    expect(created.status).toBe(201);
    const userId = newId('usr');
    const fact = {
      type: 'user.deleted' as const,
      orgId: org._id,
      factId: userId,
      at: new Date(),
      data: { userId },
    };
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
    const org = orgFixture();
    await insertFixtures(t.h.models, { organizations: [org] });
    await t.call('post', `/v1/orgs/${org._id}/webhooks`, {
      url: 'http://127.0.0.1:9/hook',
      events: ['sweep.held'],
    });
    const sweepId = newId('sweep');
    // The event is stored; the process stopped before its deliveries.
    await t.h.models.webhookEvents.insertMany([
      {
        _id: webhookEventId('sweep.held', sweepId),
        orgId: org._id,
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
});
