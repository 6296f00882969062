import type { Server } from 'node:http';
import request, { type Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { Models } from '../../src/models/create-models';
import { openApiHarness, type ApiHarness } from './api-harness';
import { eventually } from '../../test-kit/service-process';

/** The harness's app listening on a loopback port; `close` stops it. */
export async function listen(
  h: ApiHarness,
): Promise<{ server: Server; close: () => Promise<void> }> {
  const server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}

/** JSON calls with a Bearer key against a listening app. */
export interface JsonClient {
  get: (path: string, key?: string) => Promise<Response>;
  post: (path: string, body: unknown, key?: string) => Promise<Response>;
  put: (path: string, body: unknown, key?: string) => Promise<Response>;
}

export function jsonClient(server: Server, defaultKey: () => string): JsonClient {
  return {
    get: (path, key) =>
      request(server)
        .get(path)
        .set('Authorization', `Bearer ${key ?? defaultKey()}`),
    post: (path, body, key) =>
      request(server)
        .post(path)
        .set('Authorization', `Bearer ${key ?? defaultKey()}`)
        .send(body as object),
    put: (path, body, key) =>
      request(server)
        .put(path)
        .set('Authorization', `Bearer ${key ?? defaultKey()}`)
        .send(body as object),
  };
}

/** A harness listening on loopback, with a key of each kind the bulk and sweep tests use. */
export interface KeyedApi {
  h: ApiHarness;
  /** Calls with the `write` key unless given another. */
  client: JsonClient;
  keys: { write: string; read: string; admin: string };
  /** Stops the server and closes the harness. */
  close: () => Promise<void>;
}

/** Opens a harness ({@link openApiHarness}), listens, and creates a write, read and admin key. */
export async function openKeyedApi(tag: string): Promise<KeyedApi> {
  const h = await openApiHarness(tag);
  const listening = await listen(h);
  const key = async (name: string, scopes: string[]): Promise<string> =>
    (await createApiKey(h.models, { name, scopes, orgIds: ['*'] })).key;
  const keys = {
    write: await key('writer', ['read', 'write']),
    read: await key('reader', ['read']),
    admin: await key('admin', ['*']),
  };
  return {
    h,
    client: jsonClient(listening.server, () => keys.write),
    keys,
    close: async () => {
      await listening.close();
      await h.close();
    },
  };
}

/** Asserts an error answer of the contract's shape with this status and code. */
export function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(res.body as object)).toEqual(['error']);
}

/** The paths of the zod issues of a 400 (each starts with body, query or params). */
export function issuePaths(res: Response): string[] {
  const details = res.body?.error?.details as { path: (string | number)[] }[] | undefined;
  expect(Array.isArray(details)).toBe(true);
  return (details ?? []).map((issue) => issue.path.join('.'));
}

/** Polls until every run of the bulk is completed (none pending, running or failed). */
export async function waitForBulkRuns(
  models: Models,
  bulkId: string,
  timeoutMs = 60_000,
): Promise<void> {
  await eventually(
    async () =>
      (await models.deactivations.countDocuments({
        bulkId,
        status: { $ne: 'completed' },
      })) === 0,
    timeoutMs,
    `every run of bulk ${bulkId} to complete`,
  );
}

/** Per user: how many runs MongoDB holds for them, for the given users. */
export async function runCounts(models: Models, userIds: string[]): Promise<Map<string, number>> {
  const rows = await models.deactivations.aggregate<{ _id: string; n: number }>([
    { $match: { userId: { $in: userIds } } },
    { $group: { _id: '$userId', n: { $sum: 1 } } },
  ]);
  return new Map(rows.map((row) => [row._id, row.n]));
}
