import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createPrivateRedis } from '../../test-kit/private-redis';
import { openWebhookReceiver } from '../../test-kit/webhook-receiver';
import { alternate, newTag, openStore, sleep, waitFor } from '../support/common';
import { row, type Row } from '../support/sampled-row';
import { benchApiKey, seedDepartingUsers, seedOrg, type UserSize } from '../support/fixtures';
import { postDeactivation, startApi, startWorker, type BenchProcess } from '../support/stack';

/** Commands Redis served since the last CONFIG RESETSTAT, without the bench's own INFO/CONFIG. */
async function commandsServed(redis: Redis): Promise<number> {
  await sleep(300);
  const stats = await redis.info('commandstats');
  let total = 0;
  for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const [, name = '', calls = '0'] = match;
    if (name !== 'info' && name !== 'config') total += Number(calls);
  }
  return total;
}

/** One batch's cost: Redis commands and wall time per deactivation. */
interface WebhookCost {
  /** Until every run completed and every webhook was delivered. */
  commandsPerRun: number;
  /** Until every run completed: what the webhooks add to the deactivations themselves. */
  msPerRun: number;
  /** From the last run's completion to the last delivery (the relay's interval is 1 s). */
  deliveryLagMs: number;
  delivered: number;
}

/**
 * `runs` deactivations through the API and one worker, on a private Redis, until every run is
 * completed and, with `endpoint`, every `deactivation.completed` delivered to a local receiver
 * that answers 204 at once. Without it the organization has no endpoint: the events are still
 * recorded in MongoDB, nothing is queued.
 */
async function batchCost(
  runs: number,
  concurrency: number,
  size: UserSize,
  endpoint: boolean,
): Promise<WebhookCost> {
  const redis = await createPrivateRedis();
  await redis.start();
  const store = await openStore(`bench_webhooks_${newTag()}`);
  const receiver = await openWebhookReceiver();
  const processes: BenchProcess[] = [];
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  try {
    const org = await seedOrg(store.models, `org_bench_${newTag()}`);
    const users = await seedDepartingUsers(store.models, org, runs, size);
    const key = await benchApiKey(store.models, org.orgId);
    const options = {
      mongoUrl: store.url,
      redisUrl: redis.url,
      prefix: 'offboard',
      concurrency,
      cpuProfDir: null,
      env: {
        SECRETS_KEY: randomBytes(32).toString('base64'),
        WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1/32',
      },
    };
    const api = await startApi(options);
    processes.push(api, await startWorker(options));
    if (endpoint) {
      const created = await fetch(`${api.baseUrl}/v1/orgs/${org.orgId}/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: receiver.url('/bench'), events: ['deactivation.completed'] }),
      });
      if (created.status !== 201) throw new Error(`webhook not created: ${created.status}`);
    }
    await sleep(500);
    await client.config('RESETSTAT');
    const started = performance.now();
    for (const user of users) {
      await postDeactivation(api.baseUrl, key, org.orgId, {
        userId: user.userId,
        actorId: org.adminId,
      });
    }
    await waitFor(
      async () =>
        (await store.models.deactivations.countDocuments({ status: 'completed' })) >= runs,
      'every run to complete',
      600_000,
      20,
    );
    const ms = performance.now() - started;
    await waitFor(
      () => Promise.resolve(!endpoint || receiver.received.length >= runs),
      'every webhook to be delivered',
      600_000,
      20,
    );
    const deliveryLagMs = performance.now() - started - ms;
    const commands = await commandsServed(client);
    return {
      commandsPerRun: commands / runs,
      msPerRun: ms / runs,
      deliveryLagMs,
      delivered: receiver.received.length,
    };
  } finally {
    client.disconnect();
    await Promise.all(processes.map((p) => p.stop()));
    await receiver.close();
    await store.drop();
    await redis.kill();
  }
}

/** What the webhooks scenario measured. */
export interface WebhookCostRaw {
  runs: number;
  samples: number;
  withEndpoint: WebhookCost[];
  withoutEndpoint: WebhookCost[];
}

/**
 * Webhooks' cost per deactivation: Redis commands (until every webhook is delivered) and batch
 * time (until every run completed: delivery is asynchronous) with one subscribed endpoint,
 * against the same batch with none (the floor), measured alternately `samples` times. Each
 * deactivation then adds one delivery job; the delivery lag after the last run is in the raw
 * figures.
 */
export async function webhookCostScenario(options: {
  runs: number;
  concurrency: number;
  samples: number;
  size: UserSize;
}): Promise<{ rows: Row[]; raw: WebhookCostRaw }> {
  const { runs, concurrency, size } = options;
  const measured = await alternate(
    options.samples,
    () => batchCost(runs, concurrency, size, true),
    () => batchCost(runs, concurrency, size, false),
  );
  const withEndpoint = measured.offboard;
  const withoutEndpoint = measured.floor;
  return {
    rows: [
      row(
        'Webhooks',
        'Redis commands per deactivation, one endpoint vs none',
        'cmds',
        withEndpoint.map((cost) => cost.commandsPerRun),
        withoutEndpoint.map((cost) => cost.commandsPerRun),
        '<=',
        1.3,
      ),
      row(
        'Webhooks',
        'time per deactivation, one endpoint vs none',
        'ms',
        withEndpoint.map((cost) => cost.msPerRun),
        withoutEndpoint.map((cost) => cost.msPerRun),
        '<=',
        1.3,
      ),
    ],
    raw: { runs, samples: options.samples, withEndpoint, withoutEndpoint },
  };
}
