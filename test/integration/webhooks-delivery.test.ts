import { Queue } from 'bullmq';
import { queueNames, queuePrefixFor } from '../../src/queues/queue-names';
import { recordEvent } from '../../src/webhooks/record-event';
import type { WebhookEventType } from '../../src/webhooks/webhook-event-types';
import { daysAgo, insertFixtures, newId, orgFixture } from '../../test-kit/factories';
import { openTestRedis } from '../support/test-env';
import {
  openWebhookReceiver,
  verifiesWith,
  type WebhookReceiver,
} from '../../test-kit/webhook-receiver';
import {
  openWebhookHarness,
  until,
  waitForDelivery,
  webhookTestEnv,
  type WebhookHarness,
} from '../support/webhook-harness';

let t: WebhookHarness;
let receiver: WebhookReceiver;
let queue: Queue;
const redis = openTestRedis();

beforeAll(async () => {
  // Five attempts within about three seconds: the documented schedule, shortened through the config.
  t = await openWebhookHarness(
    'wh-delivery',
    webhookTestEnv({
      WEBHOOK_RETRY_SCHEDULE_MS: '100,200,400,800,1600',
      WEBHOOK_TIMEOUT_MS: '1000',
    }),
  );
  receiver = await openWebhookReceiver();
  queue = new Queue(queueNames.webhooks, {
    connection: redis,
    prefix: queuePrefixFor(t.h.config.queuePrefix, queueNames.webhooks),
  });
});

afterAll(async () => {
  await queue.close();
  await redis.quit();
  await receiver.close();
  await t.close();
});

beforeEach(() => {
  receiver.answer = () => ({ status: 204 });
});

/** A fresh organization with one endpoint at `path` of the receiver. */
async function endpointFor(path: string): Promise<{ orgId: string; id: string; secret: string }> {
  const org = orgFixture();
  await insertFixtures(t.h.models, { organizations: [org] });
  const res = await t.call('post', `/v1/orgs/${org._id}/webhooks`, {
    url: receiver.url(path),
    events: ['deactivation.completed', 'sweep.held'],
  });
  expect(res.status).toBe(201);
  const { id, secret } = res.body as { id: string; secret: string };
  receiver.secrets.push(secret);
  return { orgId: org._id, id, secret };
}

async function emit(
  orgId: string,
  type: WebhookEventType = 'deactivation.completed',
): Promise<string> {
  const factId = newId('run');
  await recordEvent(t.h.models, {
    type,
    orgId,
    factId,
    at: new Date(),
    data: { deactivationId: factId, status: 'completed' },
  });
  return `${type}:${factId}`;
}

const at = (path: string) => receiver.received.filter((got) => got.path === path);

describe('webhook delivery to a real receiver', () => {
  it('signs with the Standard Webhooks headers, verified by the standardwebhooks library', async () => {
    const { orgId, id } = await endpointFor('/signed');
    const eventId = await emit(orgId);
    const delivery = await waitForDelivery(
      t.h.models,
      { eventId },
      (d) => d.status === 'delivered',
    );
    expect(delivery).toMatchObject({ attempts: 1, lastStatusCode: 204, endpointId: id });
    const [got] = at('/signed');
    expect(got).toMatchObject({ id: eventId, verified: true });
    expect(got?.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({
      type: 'deactivation.completed',
      data: { status: 'completed' },
    });
    // Nothing for types the endpoint did not subscribe to.
    await emit(orgId, 'user.deleted');
    expect(await t.h.models.webhookDeliveries.countDocuments({ endpointId: id })).toBe(1);

    const log = await t.call('get', `/v1/orgs/${orgId}/webhooks/${id}/deliveries`);
    expect(log.status).toBe(200);
    expect((log.body as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ eventId, status: 'delivered', attempts: 1, lastStatusCode: 204 }),
    ]);
    const line = t.workerLogs.find(
      (l) => l.msg === 'webhook attempt' && l.deliveryId === delivery._id,
    );
    expect(line).toMatchObject({ eventId, endpointId: id, outcome: 'delivered', statusCode: 204 });
    expect(JSON.stringify(line)).not.toContain('whsec_');
    const metrics = await t.workerMetrics.registry.getSingleMetricAsString(
      'offboard_webhook_deliveries_total',
    );
    expect(metrics).toMatch(/outcome="delivered"\} [1-9]/);
  });

  it('retries failures with the same webhook-id until a 2xx', async () => {
    const { orgId } = await endpointFor('/flaky');
    receiver.answer = (_got, attempt) => ({ status: attempt < 3 ? 500 : 200 });
    const eventId = await emit(orgId);
    const delivery = await waitForDelivery(
      t.h.models,
      { eventId },
      (d) => d.status === 'delivered',
    );
    expect(delivery.attempts).toBe(3);
    const got = at('/flaky');
    expect(got.map((g) => g.id)).toEqual([eventId, eventId, eventId]);
    expect(got.every((g) => g.verified)).toBe(true);
  });

  it('signs with both secrets during a rotation, each verifiable alone', async () => {
    const { orgId, id, secret: oldSecret } = await endpointFor('/rotated');
    const rotated = await t.call('post', `/v1/orgs/${orgId}/webhooks/${id}/rotate-secret`);
    const newSecret = (rotated.body as { secret: string }).secret;
    const eventId = await emit(orgId);
    await waitForDelivery(t.h.models, { eventId }, (d) => d.status === 'delivered');
    const [got] = at('/rotated');
    if (!got) throw new Error('nothing received');
    expect(got.signature.split(' ')).toHaveLength(2);
    expect(verifiesWith(oldSecret, got)).toBe(true);
    expect(verifiesWith(newSecret, got)).toBe(true);
    expect(verifiesWith(`whsec_${Buffer.alloc(32).toString('base64')}`, got)).toBe(false);
  });

  it('disables the endpoint on 410, with an audit event', async () => {
    const { orgId, id } = await endpointFor('/gone');
    receiver.answer = () => ({ status: 410 });
    const eventId = await emit(orgId);
    const delivery = await waitForDelivery(t.h.models, { eventId }, (d) => d.status === 'failed');
    expect(delivery).toMatchObject({ attempts: 1, lastStatusCode: 410, lastError: 'http_410' });
    const endpoint = await t.h.models.webhookEndpoints.findById(id).lean();
    expect(endpoint).toMatchObject({ enabled: false, disabledReason: 'gone' });
    const audit = await t.h.models.auditEvents
      .find({ subjectId: id, type: 'webhook.endpoint_disabled' })
      .lean();
    expect(audit).toEqual([
      expect.objectContaining({
        actorId: 'system:webhooks',
        data: expect.objectContaining({ reason: 'gone', statusCode: 410 }),
      }),
    ]);
    // A disabled endpoint gets no new deliveries.
    await emit(orgId);
    expect(await t.h.models.webhookDeliveries.countDocuments({ endpointId: id })).toBe(1);
    expect(at('/gone')).toHaveLength(1);
  });

  it('disables an endpoint that has been failing for five days', async () => {
    const { orgId, id } = await endpointFor('/failing');
    await t.h.models.webhookEndpoints.updateOne(
      { _id: id },
      { $set: { failingSince: daysAgo(5.01) } },
    );
    receiver.answer = () => ({ status: 500 });
    const eventId = await emit(orgId);
    await waitForDelivery(t.h.models, { eventId }, (d) => d.status === 'failed');
    expect(await t.h.models.webhookEndpoints.findById(id).lean()).toMatchObject({
      enabled: false,
      disabledReason: 'failing',
    });
    expect(
      await t.h.models.auditEvents.countDocuments({
        subjectId: id,
        type: 'webhook.endpoint_disabled',
      }),
    ).toBe(1);
    expect(at('/failing')).toHaveLength(1);
  });

  it('does not follow redirects; the failed delivery is retried on request, same webhook-id', async () => {
    const { orgId, id } = await endpointFor('/redirect');
    receiver.answer = (got) =>
      got.path === '/redirect'
        ? { status: 302, headers: { location: receiver.url('/redirect-target') } }
        : { status: 204 };
    const eventId = await emit(orgId);
    const failed = await waitForDelivery(
      t.h.models,
      { eventId },
      (d) => d.status === 'failed',
      20_000,
    );
    expect(failed).toMatchObject({ attempts: 6, lastStatusCode: 302, lastError: 'http_302' });
    expect(at('/redirect-target')).toHaveLength(0);
    // Failed for good: in the queue's failed set, which the dashboard lists with its retry.
    expect(await queue.getJobState(failed._id)).toBe('failed');

    receiver.answer = () => ({ status: 204 });
    const retried = await t.call(
      'post',
      `/v1/orgs/${orgId}/webhooks/${id}/deliveries/${failed._id}/retry`,
    );
    expect(retried.status).toBe(202);
    await waitForDelivery(t.h.models, { eventId }, (d) => d.status === 'delivered');
    expect(new Set(at('/redirect').map((g) => g.id))).toEqual(new Set([eventId]));
    expect(at('/redirect')).toHaveLength(7);
    expect(
      await t.h.models.auditEvents.countDocuments({
        subjectId: id,
        type: 'webhook.delivery_retried',
      }),
    ).toBe(1);
  });

  it('counts an answer slower than the timeout as a failure', async () => {
    const { orgId } = await endpointFor('/slow');
    receiver.answer = (_got, attempt) => ({ status: 204, delayMs: attempt === 1 ? 1_500 : 0 });
    const eventId = await emit(orgId);
    const delivery = await waitForDelivery(
      t.h.models,
      { eventId },
      (d) => d.status === 'delivered',
    );
    expect(delivery.attempts).toBe(2);
    const line = t.workerLogs.find(
      (l) => l.msg === 'webhook attempt' && l.deliveryId === delivery._id && l.outcome === 'retry',
    );
    expect(line).toMatchObject({ error: 'timeout' });
  });

  it('honours Retry-After on 429', async () => {
    const { orgId } = await endpointFor('/busy');
    receiver.answer = (_got, attempt) =>
      attempt === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 204 };
    const eventId = await emit(orgId);
    await waitForDelivery(t.h.models, { eventId }, (d) => d.status === 'delivered');
    const [first, second] = at('/busy');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1_900);
  });

  it('delivers once a receiver that was down comes back', async () => {
    const { orgId } = await endpointFor('/down');
    await receiver.stop();
    try {
      const eventId = await emit(orgId);
      await waitForDelivery(t.h.models, { eventId }, (d) => d.attempts >= 2);
      const down = await t.h.models.webhookDeliveries.findOne({ eventId }).lean();
      expect(down).toMatchObject({
        status: 'pending',
        lastStatusCode: null,
        lastError: 'econnrefused',
      });
      expect(down?.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now() - 1_000);
    } finally {
      await receiver.start();
    }
    await until(
      async () =>
        (await t.h.models.webhookDeliveries.countDocuments({
          status: 'pending',
          eventType: 'deactivation.completed',
          orgId,
        })) === 0,
    );
    const delivered = await t.h.models.webhookDeliveries.findOne({ orgId }).lean();
    expect(delivered?.status).toBe('delivered');
    expect(at('/down').every((g) => g.verified)).toBe(true);
  });
});
