import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPrivateRedis } from '../test-kit/private-redis';
import { openWebhookReceiver } from '../test-kit/webhook-receiver';
import { submitAll } from './drill-client';
import { drillEnv, startDrillProcesses } from './drill-processes';
import { seedDrillStore } from './drill-store';
import { verifyStore, waitForRuns } from './drill-verdict';
import type { DrillContext, DrillReport } from './drills';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What the receiver saw, beside the drill's usual line. */
export interface WebhookDrillFigures {
  events: number;
  /** Events the receiver verified and answered 2xx at least once. */
  delivered: number;
  /** Events never received by the end. */
  missing: number;
  /** Requests beyond one per event (same `webhook-id`: retries after a 503, or duplicates). */
  repeats: number;
  /** Requests whose signature did not verify with `standardwebhooks`. */
  unverified: number;
  requests: number;
  /** Attempts made while the receiver was down (connection refused). */
  attemptsWhileDown: number;
  /** From the first event to the last delivery, seconds. */
  deliverySeconds: number;
}

/**
 * 7. The receiver is down while `runs` deactivations complete, then comes back answering 503
 * to the first request of every event and 204 after. Every `deactivation.completed` must reach
 * it at least once, signed (verified with `standardwebhooks`), every retry of one event under
 * the same `webhook-id`, none lost. The retry schedule is the documented one (docs/webhooks.md) shortened (1 s … 60 s) so
 * the drill takes minutes rather than a day; the shape is the same. Also reported: the
 * receiver's requests beyond one per event, all under the event's own `webhook-id`.
 */
export async function webhookReceiverDown(
  context: DrillContext,
): Promise<DrillReport & { webhooks: WebhookDrillFigures }> {
  const started = Date.now();
  const redisDir = mkdtempSync(path.join(tmpdir(), 'drill-redis-'));
  const redis = await createPrivateRedis(['--dir', redisDir, '--dbfilename', 'drill.rdb']);
  await redis.start();
  const store = await seedDrillStore(context.mongoUrl, context.runs);
  const receiver = await openWebhookReceiver();
  const env = {
    ...drillEnv(context.mongoUrl, store.dbName, redis.url),
    SECRETS_KEY: randomBytes(32).toString('base64'),
    WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1/32',
    // The documented ramp (docs/webhooks.md) shortened, then a retry a minute for half an hour: longer than the receiver
    // is down however slow the machine, and each delivery back within a minute of its return.
    WEBHOOK_RETRY_SCHEDULE_MS: [
      '1000',
      '5000',
      '15000',
      '30000',
      ...Array<string>(30).fill('60000'),
    ].join(','),
    WEBHOOK_RELAY_INTERVAL_MS: '200',
  };
  const processes = await startDrillProcesses(env, env, 2);
  try {
    const created = await fetch(`${processes.api.baseUrl}/v1/orgs/${store.orgId}/webhooks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${store.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: receiver.url('/drill'), events: ['deactivation.completed'] }),
    });
    if (created.status !== 201) throw new Error(`webhook not created: ${created.status}`);
    receiver.secrets.push(((await created.json()) as { secret: string }).secret);

    await receiver.stop();
    const submission = await submitAll(processes.api.baseUrl, store, store.users);
    await waitForRuns(store, submission.runIds.size, 120_000 + context.runs * 1_000);
    // The fault here is the receiver, not the runs: no effects are watched while they run, so the
    // store is checked as it ends (an empty map of first writes).
    const verdict = await verifyStore(store, submission, new Map());
    // Down a little longer, so even the last events meet it down.
    await sleep(3_000);
    const attemptsWhileDown = (
      await store.models.webhookDeliveries.find({}, { attempts: 1 }).lean()
    ).reduce((sum, delivery) => sum + delivery.attempts, 0);
    receiver.answer = (_got, attempt) => ({ status: attempt === 1 ? 503 : 204 });
    await receiver.start();

    // Every completed run owes its event; runs that did not complete are the verdict's `lost`.
    const completedRuns = await store.models.deactivations
      .find({ orgId: store.orgId, status: 'completed' }, { _id: 1 })
      .lean();
    const expected = new Set(completedRuns.map((run) => `deactivation.completed:${run._id}`));
    const seen = (): Set<string> =>
      new Set(
        receiver.received
          .filter((got) => got.verified && got.status >= 200 && got.status < 300)
          .map((got) => got.id),
      );
    const deadline = Date.now() + 300_000;
    while ([...expected].some((id) => !seen().has(id)) && Date.now() < deadline) {
      await sleep(1_000);
    }
    // A moment for stragglers: a late duplicate must still carry the same id.
    await sleep(2_000);
    const delivered = [...expected].filter((id) => seen().has(id)).length;
    const firstEvent = await store.models.webhookEvents.findOne().sort({ timestamp: 1 }).lean();
    const lastReceived = Math.max(...receiver.received.map((got) => got.at));
    const figures: WebhookDrillFigures = {
      events: expected.size,
      delivered,
      missing: expected.size - delivered,
      repeats: receiver.received.length - new Set(receiver.received.map((got) => got.id)).size,
      unverified: receiver.received.filter((got) => !got.verified).length,
      requests: receiver.received.length,
      attemptsWhileDown,
      deliverySeconds: Math.round(
        (lastReceived - (firstEvent?.timestamp.getTime() ?? lastReceived)) / 1000,
      ),
    };
    const strangers = receiver.received.filter((got) => !expected.has(got.id)).length;
    const problems = [
      ...verdict.problems,
      ...(figures.missing > 0 ? [`${figures.missing} events never delivered`] : []),
      ...(figures.unverified > 0 ? [`${figures.unverified} requests failed verification`] : []),
      ...(strangers > 0 ? [`${strangers} requests with an unknown webhook-id`] : []),
    ];
    for (const problem of problems) context.log(`webhook receiver down: ${problem}`);
    context.log(`webhook receiver down: ${JSON.stringify(figures)}`);
    return {
      drill: 'webhook receiver down',
      runs: context.runs,
      faults: attemptsWhileDown,
      injected: attemptsWhileDown,
      failures: problems,
      effectsWatched: 0,
      inFlightAtFaults: [],
      serverErrors: submission.serverErrors,
      unavailable: submission.unavailable,
      seconds: Math.round((Date.now() - started) / 1000),
      completed: verdict.completed,
      lost: verdict.lost + figures.missing + figures.unverified + strangers,
      duplicated: verdict.duplicated,
      problems,
      webhooks: figures,
    };
  } finally {
    await processes.close();
    await receiver.close().catch(() => undefined);
    await redis.kill().catch(() => undefined);
    rmSync(redisDir, { recursive: true, force: true });
    await store.close().catch(() => undefined);
  }
}
