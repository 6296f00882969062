import { createApiKey } from '../../src/auth/api-key-repository';
import type { User } from '../../src/models/user.model';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { jsonClient, listen, runCounts, type JsonClient } from '../support/bulk-fixtures';
import { daysAgo, insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';
import { freePort } from '../../test-kit/free-port';
import {
  eventually,
  startServiceProcess,
  type ServiceProcess,
} from '../../test-kit/service-process';
import { mongoUrl, redisUrl } from '../support/test-env';

// A bulk deactivation survives its worker being SIGKILLed half-way (docs/jobs.md): another
// worker process takes the stalled job over, the bulk completes, and nobody gets a second run.

// Three batches of 200: the kill lands after the first or the second.
const userCount = 600;

let h: ApiHarness;
let stopServer: () => Promise<void>;
let client: JsonClient;
let env: Record<string, string>;
const processes: ServiceProcess[] = [];

const isRunning = (service: ServiceProcess): boolean =>
  service.child.exitCode === null && service.child.signalCode === null;

function processOutput(): string {
  return processes
    .map((service, index) => `--- worker ${index} ---\n${service.output()}`)
    .join('\n');
}

async function startWorker(): Promise<ServiceProcess> {
  const worker = await startServiceProcess('worker-main', env, await freePort());
  processes.push(worker);
  return worker;
}

beforeAll(async () => {
  h = await openApiHarness('bulkresume');
  const listening = await listen(h);
  stopServer = listening.close;
  const key = (
    await createApiKey(h.models, { name: 'writer', scopes: ['read', 'write'], orgIds: ['*'] })
  ).key;
  client = jsonClient(listening.server, () => key);
  const storeUrl = new URL(mongoUrl);
  storeUrl.pathname = `/${h.store.dbName}`;
  env = {
    MONGO_URL: storeUrl.toString(),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: h.config.queuePrefix,
    LOG_LEVEL: 'warn',
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_CONCURRENCY: '16',
    RECONCILE_INTERVAL_MS: '60000',
  };
});

afterAll(async () => {
  for (const service of processes.filter(isRunning)) await service.stop('SIGKILL');
  await stopServer();
  await h.close();
}, 30_000);

describe('bulk deactivation with real worker processes', () => {
  it('resumes after the worker is SIGKILLed mid-bulk, without a second run for anyone', async () => {
    const org = orgFixture();
    const actor = userFixture(org._id, { role: 'admin' });
    const users: User[] = Array.from({ length: userCount }, () =>
      userFixture(org._id, { kind: 'customer', lastLoginAt: daysAgo(200) }),
    );
    await insertFixtures(h.models, {
      organizations: [org],
      users: [actor, userFixture(org._id, { role: 'admin' })],
    });
    for (let start = 0; start < users.length; start += 200) {
      await h.models.users.insertMany(users.slice(start, start + 200));
    }
    const userIds = users.map((user) => user._id);

    // Accepted while no worker runs.
    const accepted = await client.post(`/v1/orgs/${org._id}/bulk-deactivations`, {
      actorId: actor._id,
      userIds,
      allowReactivationOnPurchase: true,
    });
    expect(accepted.status).toBe(202);
    const bulkId = accepted.body.id as string;
    expect(accepted.body.matched).toBe(userCount);

    // The first worker is killed once it has finished some batches and not all of them.
    const doomed = await startWorker();
    let killedAt: number | null = null;
    try {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
        const bulk = await h.models.bulkDeactivations.findById(bulkId).lean();
        const processed = bulk?.processed ?? 0;
        if (processed > 0 && processed < userCount) {
          await doomed.stop('SIGKILL');
          killedAt = processed;
          break;
        }
        if (bulk?.status === 'completed') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      if (isRunning(doomed)) await doomed.stop('SIGKILL');
    }
    if (killedAt === null) {
      throw new Error(`the worker was not caught mid-bulk\n${processOutput()}`);
    }
    const atKill = await h.models.bulkDeactivations.findById(bulkId).lean();
    expect(atKill?.status).toBe('running');
    expect(atKill?.processed).toBeLessThan(userCount);
    expect(await h.models.bulkItems.countDocuments({ bulkId, status: 'pending' })).toBeGreaterThan(
      0,
    );

    // Another worker takes the stalled bulk job over (lock 2 s) and finishes it.
    const successor = await startWorker();
    try {
      await eventually(
        async () => {
          const res = await client.get(`/v1/orgs/${org._id}/bulk-deactivations/${bulkId}`);
          expect(res.status).toBe(200);
          return res.body.status === 'completed' && res.body.completedRuns === userCount;
        },
        120_000,
        'the bulk and all its runs to complete',
      );
    } catch (error) {
      const bulk = await h.models.bulkDeactivations.findById(bulkId).lean();
      throw new Error(`${String(error)}\nbulk: ${JSON.stringify(bulk)}\n${processOutput()}`, {
        cause: error,
      });
    }
    const report = await client.get(`/v1/orgs/${org._id}/bulk-deactivations/${bulkId}`);
    expect(report.body).toMatchObject({
      status: 'completed',
      matched: userCount,
      processed: userCount,
      enqueued: userCount,
      completedRuns: userCount,
      failedRuns: 0,
      skipped: 0,
      skippedByReason: {},
    });

    // Exactly one run per user, and it is the one the user and the bulk item point at.
    const counts = await runCounts(h.models, userIds);
    expect(counts.size).toBe(userCount);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    const runs = await h.models.deactivations
      .find({ orgId: org._id }, { _id: 1, userId: 1, bulkId: 1, status: 1 })
      .lean();
    expect(runs).toHaveLength(userCount);
    const runByUser = new Map(runs.map((run) => [run.userId, run]));
    const stored = await h.models.users
      .find({ _id: { $in: userIds } }, { _id: 1, status: 1, deactivationId: 1 })
      .lean();
    const wrongUsers = stored.filter(
      (user) => user.status !== 'inactive' || user.deactivationId !== runByUser.get(user._id)?._id,
    );
    expect(wrongUsers).toEqual([]);
    expect(runs.filter((run) => run.bulkId !== bulkId || run.status !== 'completed')).toEqual([]);
    const items = await h.models.bulkItems.find({ bulkId }).lean();
    expect(items).toHaveLength(userCount);
    expect(
      items.filter(
        (item) => item.status !== 'enqueued' || item.runId !== runByUser.get(item.userId)?._id,
      ),
    ).toEqual([]);

    expect(await successor.stop('SIGTERM')).toBe(0);
  }, 180_000);
});
