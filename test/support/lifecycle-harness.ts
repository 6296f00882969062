import type { Server } from 'node:http';
import request, { type Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { Deactivation } from '../../src/models/deactivation.model';
import type { User } from '../../src/models/user.model';
import { openApiHarness, type ApiHarness } from './api-harness';
import { seedStaffedOrg, type StaffedOrg } from '../../test-kit/factories';
import {
  acceptWithoutWorkers,
  openIdleProducer,
  startTestWorkers,
  waitForRunStatus,
  type IdleProducer,
} from './run-helpers';
import { openTestRedis } from './test-env';
import type { RedisClient } from '../../src/infra/redis-connection';

/** The API of one test file on a real port, with real workers on the same queue prefix. */
export interface LifecycleHarness {
  h: ApiHarness;
  server: Server;
  /** A plain Redis client for assertions. */
  redis: RedisClient;
  /** A producer no worker serves, for runs that must stay as the test leaves them. */
  idle: IdleProducer;
  /** Keys by scope, every organization: `all` is `*`. */
  keys: { all: string; read: string; write: string; purchases: string; delete: string };
  /** POST with a key (default `all`) and optional Idempotency-Key. */
  post: (
    path: string,
    body: unknown,
    options?: { key?: string; idempotencyKey?: string },
  ) => Promise<Response>;
  close: () => Promise<void>;
}

export async function openLifecycleHarness(tag: string): Promise<LifecycleHarness> {
  const h = await openApiHarness(tag);
  const workers = await startTestWorkers(h.store, { QUEUE_PREFIX: h.config.queuePrefix });
  const server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const redis = openTestRedis();
  const idle = openIdleProducer();
  const key = async (scopes: string[]): Promise<string> =>
    (await createApiKey(h.models, { name: scopes.join('+'), scopes, orgIds: ['*'] })).key;
  const keys = {
    all: await key(['*']),
    read: await key(['read']),
    write: await key(['write']),
    purchases: await key(['purchases']),
    delete: await key(['delete']),
  };
  return {
    h,
    server,
    redis,
    idle,
    keys,
    post: (path, body, options = {}) => {
      let req = request(server)
        .post(path)
        .set('Authorization', `Bearer ${options.key ?? keys.all}`);
      if (options.idempotencyKey !== undefined) {
        req = req.set('Idempotency-Key', options.idempotencyKey);
      }
      return req.send(body as object);
    },
    close: async () => {
      await workers.close();
      await idle.close();
      await redis.quit();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      });
      await h.close();
    },
  };
}

/** An organization with two active admins (no request meets last_admin) and a manager. */
export function seedLifecycleOrg(
  t: LifecycleHarness,
  extraUsers: (orgId: string) => User[] = () => [],
): Promise<StaffedOrg> {
  return seedStaffedOrg(t.h.models, extraUsers);
}

/** Deactivates through the API and waits for the workers to complete the run. */
export async function deactivateAndWait(
  t: LifecycleHarness,
  input: {
    orgId: string;
    userId: string;
    actorId: string;
    reason?: string;
    allowReactivationOnPurchase?: boolean;
    idempotencyKey?: string;
  },
): Promise<Deactivation> {
  const { orgId, idempotencyKey, ...body } = input;
  const res = await t.post(`/v1/orgs/${orgId}/deactivations`, body, {
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  });
  expect(res.status).toBe(202);
  return waitForRunStatus(t.h.models, (res.body as { id: string }).id, 'completed');
}

/**
 * Makes `userId` inactive through the real acceptance, on the idle producer (no worker takes
 * the run): a run still `pending`, or one marked `completed` / `failed` at once.
 */
export async function deactivateInStore(
  t: LifecycleHarness,
  input: { orgId: string; userId: string; actorId: string; allowReactivationOnPurchase?: boolean },
  status: 'pending' | 'completed' | 'failed',
): Promise<Deactivation> {
  const runId = `run_${input.userId}_${Date.now()}`;
  const run = await acceptWithoutWorkers(
    t.h.models,
    t.idle,
    { ...input, source: 'api', reason: null },
    new Date(),
    runId,
  );
  if (status !== 'pending') {
    await t.h.models.deactivations.updateOne(
      { _id: runId },
      { $set: { status, completedAt: new Date() } },
    );
  }
  return { ...run, status };
}

/** Polls until `probe` returns a value (not undefined); fails with `what` after `timeoutMs`. */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The contract's error body: returns its code after checking the shape. */
export function errorCode(res: Response): string {
  const body = res.body as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error?.message).toBe('string');
  return String(body.error?.code);
}
