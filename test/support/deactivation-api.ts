import type { Server } from 'node:http';
import { Queue } from 'bullmq';
import request, { type Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import { stepNames } from '../../src/models/deactivation.model';
import type { User } from '../../src/models/user.model';
import { queueNames } from '../../src/queues/queue-names';
import { openApiHarness, type ApiHarness } from './api-harness';
import { listen } from './bulk-fixtures';
import { seedStaffedOrg, type StaffedOrg } from '../../test-kit/factories';
import { keysUnder } from '../../test-kit/redis-keys';
import { openTestRedis } from './test-env';
import type { RedisClient } from '../../src/infra/redis-connection';

/** The deactivation API of one test file: the real app on a port, no workers. */
export interface DeactivationApi {
  h: ApiHarness;
  server: Server;
  /** A plain Redis client for assertions. */
  redis: RedisClient;
  /** The runs queue, to look at the flows the API added. */
  runsQueue: Queue;
  /** `*` scopes, `*` orgs. */
  adminKey: string;
  /** `write` and `read`, every organization. */
  writeKey: string;
  writeKeyId: string;
}

/** The deactivations collection path of an organization. */
export const deactivationsPath = (orgId: string): string => `/v1/orgs/${orgId}/deactivations`;

/**
 * Opens the API before the file's tests and closes everything after them (registers jest's
 * `beforeAll` / `afterAll`); the returned object is filled in by then.
 */
export function useDeactivationApi(tag: string): DeactivationApi {
  const t = {} as DeactivationApi;
  let stopServer: () => Promise<void>;
  beforeAll(async () => {
    t.h = await openApiHarness(tag);
    const listening = await listen(t.h);
    t.server = listening.server;
    stopServer = listening.close;
    t.redis = openTestRedis();
    t.runsQueue = new Queue(queueNames.runs, {
      connection: t.redis,
      prefix: t.h.config.queuePrefix,
    });
    t.adminKey = (
      await createApiKey(t.h.models, { name: 'all', scopes: ['*'], orgIds: ['*'] })
    ).key;
    const write = await createApiKey(t.h.models, {
      name: 'writer',
      scopes: ['read', 'write'],
      orgIds: ['*'],
    });
    t.writeKey = write.key;
    t.writeKeyId = write.id;
  });
  afterAll(async () => {
    await t.runsQueue.close();
    await t.redis.quit();
    await stopServer();
    await t.h.close();
  });
  return t;
}

/** The calls and checks the deactivation API tests share, bound to one {@link DeactivationApi}. */
export function deactivationApiHelpers(t: DeactivationApi): {
  api: () => ReturnType<typeof request>;
  post: (
    orgId: string,
    body: unknown,
    options?: { key?: string; query?: string; idempotencyKey?: string },
  ) => Promise<Response>;
  get: (path: string, key?: string) => Promise<Response>;
  seedOrg: (extraUsers?: (orgId: string) => User[]) => Promise<StaffedOrg>;
  userInDb: (id: string) => Promise<User | null>;
  runsOf: (userId: string) => Promise<{ _id: string }[]>;
  expectUntouched: (userId: string) => Promise<void>;
  storeSnapshot: () => Promise<Record<string, unknown[]>>;
  redisKeys: () => Promise<string[]>;
} {
  const api = (): ReturnType<typeof request> => request(t.server);
  const userInDb = (id: string): Promise<User | null> => t.h.models.users.findById(id).lean();
  const runsOf = (userId: string): Promise<{ _id: string }[]> =>
    t.h.models.deactivations.find({ userId }, { _id: 1 }).lean();
  return {
    api,
    post: (orgId, body, options = {}) => {
      let req = api()
        .post(`${deactivationsPath(orgId)}${options.query ?? ''}`)
        .set('Authorization', `Bearer ${options.key ?? t.writeKey}`);
      if (options.idempotencyKey !== undefined)
        req = req.set('Idempotency-Key', options.idempotencyKey);
      return req.send(body as object);
    },
    get: (path, key = t.writeKey) => api().get(path).set('Authorization', `Bearer ${key}`),
    seedOrg: (extraUsers) => seedStaffedOrg(t.h.models, extraUsers),
    userInDb,
    runsOf,
    /** Asserts that a refused request changed nothing for the user. */
    expectUntouched: async (userId) => {
      expect(await userInDb(userId)).toMatchObject({ status: 'active' });
      expect((await userInDb(userId))?.deactivationId ?? null).toBeNull();
      expect(await runsOf(userId)).toHaveLength(0);
    },
    /** Every document of every collection of the test database, in a stable order. */
    storeSnapshot: async () => {
      const db = t.h.store.mongo.db!;
      const collections = (await db.listCollections().toArray()).map((c) => c.name).sort();
      const snapshot: Record<string, unknown[]> = {};
      for (const name of collections) {
        snapshot[name] = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
      }
      return snapshot;
    },
    redisKeys: async () => (await keysUnder(t.redis, t.h.config.queuePrefix)).sort(),
  };
}

/** The contract's error body. */
export interface ApiError {
  code: string;
  message: string;
  details?: unknown;
}

/** Asserts the contract's error shape `{error: {code, message, details?}}`; returns `error`. */
export function expectError(res: Response, status: number, code: string): ApiError {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body as object)).toEqual(['error']);
  const error = res.body.error as ApiError;
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  for (const field of Object.keys(error)) {
    expect(['code', 'message', 'details']).toContain(field);
  }
  return error;
}

/** The paths of the zod issues in a 400's details. */
export function issuePaths(error: ApiError): unknown[][] {
  expect(Array.isArray(error.details)).toBe(true);
  return (error.details as { path: unknown[] }[]).map((issue) => issue.path);
}

/** Every step with the same status. */
export const allSteps = (status: 'pending' | 'skipped'): Record<string, string> =>
  Object.fromEntries(stepNames.map((name) => [name, status]));

/** A run view's steps as `{name: status}`. */
export const stepStatuses = (body: unknown): Record<string, string> =>
  Object.fromEntries(
    (body as { steps: { name: string; status: string }[] }).steps.map((s) => [s.name, s.status]),
  );
