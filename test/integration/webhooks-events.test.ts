import { recordRunFinished, recordBulkCompleted } from '../../src/webhooks/webhook-facts';
import { webhookEventTypes, type WebhookEventType } from '../../src/webhooks/webhook-event-types';
import type { User } from '../../src/models/user.model';
import { newBulk } from '../../src/bulk/bulk-selection';
import { enqueueBulk } from '../../src/queues/bulk-queue';
import {
  daysAgo,
  insertFixtures,
  orgFixture,
  sweepPolicyFixture,
  sweepReportFixture,
  userFixture,
} from '../../test-kit/factories';
import { waitForRunStatus } from '../support/run-helpers';
import { openWebhookReceiver, type WebhookReceiver } from '../../test-kit/webhook-receiver';
import { openWebhookHarness, until, type WebhookHarness } from '../support/webhook-harness';

let t: WebhookHarness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  t = await openWebhookHarness('wh-events');
  receiver = await openWebhookReceiver();
});

afterAll(async () => {
  await receiver.close();
  await t.close();
});

const reason = 'private words about Zebedee';

describe('webhook events', () => {
  it('emits each type exactly once per fact, whatever the path, with no personal data', async () => {
    const org = orgFixture({
      sweepPolicy: sweepPolicyFixture({ maxPerRun: 1 }),
    });
    const orgId = org._id;
    const admin = userFixture(orgId, { role: 'admin' });
    const admin2 = userFixture(orgId, { role: 'admin' });
    const kept = userFixture(orgId);
    const noEmail = userFixture(orgId, { email: '' });
    const bulked = userFixture(orgId);
    const dormant = [0, 1].map(() => userFixture(orgId, { lastLoginAt: daysAgo(200) }));
    const everyone: User[] = [admin, admin2, kept, noEmail, bulked, ...dormant];
    await insertFixtures(t.h.models, { organizations: [org], users: everyone });
    const created = await t.call('post', `/v1/orgs/${orgId}/webhooks`, {
      url: receiver.url('/all'),
      events: webhookEventTypes,
    });
    expect(created.status).toBe(201);
    receiver.secrets.push((created.body as { secret: string }).secret);
    const api = (path: string, body: unknown) => t.call('post', `/v1/orgs/${orgId}${path}`, body);

    // API: deactivate, reactivate (twice: one fact), deactivate again, delete.
    const first = await api('/deactivations', { userId: kept._id, actorId: admin._id, reason });
    await waitForRunStatus(t.h.models, (first.body as { id: string }).id, 'completed');
    expect(
      (await api('/reactivations', { userId: kept._id, actorId: admin._id, reason })).status,
    ).toBe(200);
    expect((await api('/reactivations', { userId: kept._id, actorId: admin._id })).status).toBe(
      409,
    );
    const second = await api('/deactivations', { userId: kept._id, actorId: admin._id });
    const secondId = (second.body as { id: string }).id;
    await waitForRunStatus(t.h.models, secondId, 'completed');
    expect(
      (await api('/deletions', { userId: kept._id, actorId: admin._id, confirm: kept._id })).status,
    ).toBe(202);
    // A run that fails for good (no email to blocklist).
    const failing = await api('/deactivations', { userId: noEmail._id, actorId: admin._id });
    const failingId = (failing.body as { id: string }).id;
    await waitForRunStatus(t.h.models, failingId, 'failed');
    // Bulk through the API.
    const bulk = await api('/bulk-deactivations', {
      actorId: admin2._id,
      userIds: [bulked._id],
      reason,
    });
    expect(bulk.status).toBe(202);
    const bulkId = (bulk.body as { id: string }).id;
    // A sweep over the two dormant users, held (maxPerRun 1), then approved.
    await t.h.producers.sweepsQueue.add(`sweep ${orgId}`, { orgId }, { jobId: 'fire-1' });
    const sweepId = `${orgId}-fire-1`;
    await until(async () => (await t.h.models.sweeps.findById(sweepId).lean())?.status === 'held');
    await until(
      async () => (await t.h.models.webhookEvents.countDocuments({ type: 'sweep.held' })) === 1,
    );
    expect((await api(`/sweeps/${sweepId}/approve`, undefined)).status).toBe(200);

    const expected: Record<WebhookEventType, number> = {
      'deactivation.completed': 5, // kept twice, bulked, two dormant
      'deactivation.failed': 1,
      'user.reactivated': 1,
      'user.deleted': 1,
      'bulk_deactivation.completed': 2, // the API's and the sweep's
      'sweep.held': 1,
      'sweep.completed': 1,
    };
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    await until(
      async () =>
        (await t.h.models.webhookDeliveries.countDocuments({ orgId, status: 'delivered' })) ===
        total,
      40_000,
      async () => ({
        events: await t.h.models.webhookEvents.find({ orgId }, { type: 1 }).lean(),
        deliveries: await t.h.models.webhookDeliveries
          .find({ orgId }, { eventId: 1, status: 1, attempts: 1, queuedAt: 1 })
          .lean(),
        runs: await t.h.models.deactivations.find({ orgId }, { status: 1, source: 1 }).lean(),
        sweep: await t.h.models.sweeps.findById(sweepId, { status: 1 }).lean(),
      }),
    );
    // Facts recorded again (a retried job) add nothing.
    await recordRunFinished(t.h.models, secondId);
    await recordRunFinished(t.h.models, failingId);
    await recordBulkCompleted(t.h.models, bulkId);
    for (const [type, count] of Object.entries(expected) as [WebhookEventType, number][]) {
      expect([type, await t.h.models.webhookEvents.countDocuments({ orgId, type })]).toEqual([
        type,
        count,
      ]);
    }
    expect(await t.h.models.webhookDeliveries.countDocuments({ orgId })).toBe(total);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const got = receiver.received.filter((r) => r.path === '/all');
    expect(got).toHaveLength(total);
    expect(new Set(got.map((r) => r.id)).size).toBe(total);
    expect(got.every((r) => r.verified)).toBe(true);

    const bodies = got.map((r) => r.body).join('\n');
    for (const user of everyone) {
      for (const personal of [user.email, user.firstName, user.lastName]) {
        if (personal) expect(bodies).not.toContain(personal);
      }
    }
    expect(bodies).not.toContain('Zebedee');
    const byType = new Map(
      got.map((r) => [
        JSON.parse(r.body).type as string,
        JSON.parse(r.body) as { data: Record<string, unknown> },
      ]),
    );
    expect(byType.get('deactivation.failed')?.data).toMatchObject({
      deactivationId: failingId,
      status: 'failed',
      steps: expect.arrayContaining([
        expect.objectContaining({
          name: 'blocklist-email',
          status: 'failed',
          error: 'invalid_step_data',
        }),
      ]),
    });
    // The completed event says what the run document says (the run job builds it from the run
    // it read and its own completion write, without reading the run back).
    const secondRun = await t.h.models.deactivations.findById(secondId).lean();
    const completedEvent = await t.h.models.webhookEvents
      .findById(`deactivation.completed:${secondId}`)
      .lean();
    expect(completedEvent?.timestamp).toEqual(secondRun?.completedAt);
    expect(completedEvent?.data).toMatchObject({
      status: 'completed',
      completedAt: secondRun?.completedAt,
      steps: secondRun?.steps.map((step): unknown =>
        expect.objectContaining({
          name: step.name,
          status: step.status,
          attempts: step.attempts,
          result: step.result,
        }),
      ),
    });
    expect(byType.get('user.reactivated')?.data).toMatchObject({ userId: kept._id, source: 'api' });
    expect(byType.get('user.deleted')?.data).toMatchObject({ userId: kept._id, status: 'deleted' });
    expect(byType.get('sweep.completed')?.data).toMatchObject({ sweepId, status: 'completed' });
  });
});

describe('a job that stopped right after its final write', () => {
  // What a crash leaves: the bulk marked completed, or the sweep held, and nothing after it.
  /** An endpoint of the organization subscribed to `events`: without one no event is stored. */
  async function subscribe(orgId: string, events: WebhookEventType[]): Promise<void> {
    const created = await t.call('post', `/v1/orgs/${orgId}/webhooks`, {
      url: receiver.url('/stopped'),
      events,
    });
    expect(created.status).toBe(201);
  }

  it('records the bulk and sweep events and the sweep report when the bulk job runs again', async () => {
    const org = orgFixture();
    await insertFixtures(t.h.models, { organizations: [org] });
    await subscribe(org._id, ['bulk_deactivation.completed', 'sweep.completed']);
    const sweep = sweepReportFixture(org._id);
    const bulk = {
      ...newBulk(
        {
          orgId: org._id,
          actorId: 'system:sweep',
          source: 'sweep',
          sweepId: sweep._id,
          reason: null,
          allowReactivationOnPurchase: false,
          dryRun: false,
          filter: null,
          createdAt: new Date(),
        },
        'completed',
        `sweep-${sweep._id}`,
      ),
      skipped: 1,
      skippedByReason: { team_leader: 1 },
      finishedAt: new Date(),
    };
    await t.h.models.sweeps.insertMany([{ ...sweep, bulkId: bulk._id }]);
    await t.h.models.bulkDeactivations.insertMany([bulk]);

    await enqueueBulk(t.h.producers.bulkQueue, bulk);
    await until(
      async () => (await t.h.models.sweeps.findById(sweep._id).lean())?.status === 'completed',
    );
    await until(
      async () => (await t.h.models.webhookEvents.countDocuments({ orgId: org._id })) === 2,
    );
    const types = await t.h.models.webhookEvents.find({ orgId: org._id }).distinct('type');
    expect(types.sort()).toEqual(['bulk_deactivation.completed', 'sweep.completed']);

    // Once more: the report is not counted twice, and no event is added.
    const again = await t.h.producers.bulkQueue.add(`bulk ${bulk._id}`, {
      bulkId: bulk._id,
      orgId: org._id,
    });
    await until(async () => (await again.getState()) === 'completed');
    expect(await t.h.models.sweeps.findById(sweep._id).lean()).toMatchObject({
      skippedByReason: { team_leader: 1 },
    });
    expect(await t.h.models.webhookEvents.countDocuments({ orgId: org._id })).toBe(2);
  });

  it('records sweep.held when the sweep job runs again', async () => {
    const org = orgFixture();
    await insertFixtures(t.h.models, {
      organizations: [
        {
          ...org,
          sweepPolicy: sweepPolicyFixture({ maxPerRun: 1 }),
        },
      ],
    });
    await subscribe(org._id, ['sweep.held']);
    const sweepId = `${org._id}-fire-held`;
    await t.h.models.sweeps.insertMany([
      sweepReportFixture(org._id, { _id: sweepId, status: 'held', held: true, selected: 2 }),
    ]);
    await t.h.producers.sweepsQueue.add(
      `sweep ${org._id}`,
      { orgId: org._id },
      { jobId: 'fire-held' },
    );
    await until(
      async () =>
        (await t.h.models.webhookEvents.countDocuments({ orgId: org._id, type: 'sweep.held' })) ===
        1,
    );
  });
});
