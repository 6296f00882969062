import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import request, { type Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import { expireIdempotencyRecords } from '../../src/workers/maintenance/expire-idempotency-records.job';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { listen } from '../support/bulk-fixtures';
import { insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';

// README (Choices: Idempotency-Key): records are kept 24 h and expired by a maintenance job
// (FerretDB has no TTL index); 5xx responses are never recorded, so the client can retry.
// The API's Redis is a private redis-server whose memory limit the test lowers (noeviction), so
// Redis refuses the flow at once with an OOM error, as in the Redis-full drill.

let redis: PrivateRedis;
let admin: Redis;
let h: ApiHarness;
let server: Server;
let stopServer: () => Promise<void>;
let key: string;

beforeAll(async () => {
  redis = await createPrivateRedis();
  await redis.start();
  admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  h = await openApiHarness('idempotency', { REDIS_URL: redis.url });
  ({ server, close: stopServer } = await listen(h));
  key = (await createApiKey(h.models, { name: 'writer', scopes: ['*'], orgIds: ['*'] })).key;
});

afterAll(async () => {
  await stopServer();
  await h.close();
  admin.disconnect();
  await redis.kill();
}, 30_000);

/** Redis refuses every write (OOM under noeviction) until `unlimit`. */
const limit = async (): Promise<unknown> => admin.config('SET', 'maxmemory', '1');
const unlimit = async (): Promise<unknown> => admin.config('SET', 'maxmemory', '0');

async function seedOrg(): Promise<{ orgId: string; adminId: string; userIds: string[] }> {
  const org = orgFixture();
  const admin = userFixture(org._id, { role: 'admin' });
  const users = [userFixture(org._id), userFixture(org._id), userFixture(org._id)];
  await insertFixtures(h.models, { organizations: [org], users: [admin, ...users] });
  return { orgId: org._id, adminId: admin._id, userIds: users.map((user) => user._id) };
}

function postDeactivation(orgId: string, body: object, idempotencyKey: string): Promise<Response> {
  return request(server)
    .post(`/v1/orgs/${orgId}/deactivations`)
    .set('Authorization', `Bearer ${key}`)
    .set('Idempotency-Key', idempotencyKey)
    .send(body);
}

describe('Idempotency-Key records', () => {
  it('never records a 5xx: the retry runs again and its answer is the one replayed', async () => {
    const { orgId, adminId, userIds } = await seedOrg();
    const body = { userId: userIds[0], actorId: adminId };
    const recordCount = (): Promise<number> => h.models.idempotencyRecords.countDocuments({});
    // A flow added first, so the producer has loaded BullMQ's scripts while Redis took writes
    // (a producer whose very first add meets a full Redis stays on NOSCRIPT: reported).
    expect(
      (await postDeactivation(orgId, { userId: userIds[2], actorId: adminId }, 'w')).status,
    ).toBe(202);
    const before = await recordCount();

    // Redis refuses the flow after the run was written: 503 naming the run.
    await limit();
    let refused: Response;
    try {
      refused = await postDeactivation(orgId, body, 'five-hundred');
    } finally {
      await unlimit();
    }
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('service_unavailable');
    const runId = (refused.body.error.details as { deactivationId: string }).deactivationId;
    expect(await recordCount()).toBe(before);

    // Redis takes writes again. The same key and body is carried out again, not answered from
    // a record: the run is recorded, so the answer is now 409 naming it, and that is replayed.
    const retried = await postDeactivation(orgId, body, 'five-hundred');
    expect({ status: retried.status, body: retried.body as unknown }).toEqual({
      status: 409,
      body: {
        error: expect.objectContaining({
          code: 'deactivation_in_progress',
          details: { deactivationId: runId },
        }) as unknown,
      },
    });
    expect(await recordCount()).toBe(before + 1);
    const replayed = await postDeactivation(orgId, body, 'five-hundred');
    expect({ status: replayed.status, body: replayed.body as unknown }).toEqual({
      status: 409,
      body: retried.body as unknown,
    });
    // Redis takes the flow now: a new request is accepted.
    const next = await postDeactivation(orgId, { userId: userIds[1], actorId: adminId }, 'next');
    expect(next.status).toBe(202);
  });

  it('expires records past their expiry and keeps the others; an expired key is free again', async () => {
    const { orgId, adminId, userIds } = await seedOrg();
    const first = await postDeactivation(orgId, { userId: userIds[0], actorId: adminId }, 'old');
    expect({ status: first.status, body: first.body as unknown }).toMatchObject({ status: 202 });
    const kept = await postDeactivation(orgId, { userId: userIds[1], actorId: adminId }, 'new');
    expect(kept.status).toBe(202);
    // The first record is older than its 24 hours.
    const records = await h.models.idempotencyRecords.find({}).sort({ createdAt: 1 }).lean();
    const [oldRecord, newRecord] = records.slice(-2);
    expect(newRecord!.expiresAt.getTime() - newRecord!.createdAt.getTime()).toBe(86_400_000);
    await h.models.idempotencyRecords.updateOne(
      { _id: oldRecord!._id },
      { $set: { expiresAt: new Date(Date.now() - 1_000) } },
    );

    const outcome = await expireIdempotencyRecords(h.models);
    expect(outcome.deleted).toBeGreaterThanOrEqual(1);
    expect(await h.models.idempotencyRecords.exists({ _id: oldRecord!._id })).toBeNull();
    expect(await h.models.idempotencyRecords.exists({ _id: newRecord!._id })).not.toBeNull();

    // The unexpired key still replays; the expired one no longer binds its first body (a
    // different body is no longer 422): the request is carried out, and refused because that
    // user's run (no worker runs here) is still pending.
    const replay = await postDeactivation(orgId, { userId: userIds[1], actorId: adminId }, 'new');
    expect(replay.body).toEqual(kept.body);
    const reused = await postDeactivation(orgId, { userId: userIds[1], actorId: adminId }, 'old');
    expect({ status: reused.status, code: reused.body.error?.code as unknown }).toEqual({
      status: 409,
      code: 'deactivation_in_progress',
    });
  });
});
