import type { Server } from 'node:http';
import request, { type Response, type Test } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { Deactivation } from '../../src/models/deactivation.model';
import { openApiHarness, type ApiHarness } from './api-harness';
import { startTestWorkers, waitForRunStatus } from './run-helpers';

/** The app of one test file on a real port; with real workers when asked. */
export interface ScimHarness {
  h: ApiHarness;
  server: Server;
  /** A key with `scopes` for `orgIds` (default: `scim` for every organization). */
  key: (scopes?: string[], orgIds?: string[]) => Promise<string>;
  /** A SCIM request to `/scim/v2/orgs/<orgId><path>` with a key, the body as scim+json. */
  scim: (
    method: 'get' | 'post' | 'put' | 'patch' | 'delete',
    orgId: string,
    path: string,
    options?: { body?: unknown; key?: string; headers?: Record<string, string> },
  ) => Test;
  close: () => Promise<void>;
}

/**
 * Opens the harness. With `workers`, real workers run on the same queue prefix, and the
 * reconciler every second: it erases users SCIM deleted while their run was going.
 */
export async function openScimHarness(
  tag: string,
  options: { workers?: boolean } = {},
): Promise<ScimHarness> {
  const h = await openApiHarness(tag);
  const workers = options.workers
    ? await startTestWorkers(h.store, {
        QUEUE_PREFIX: h.config.queuePrefix,
        RECONCILE_INTERVAL_MS: '1000',
      })
    : null;
  const server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const defaultKey = (
    await createApiKey(h.models, { name: 'scim', scopes: ['scim'], orgIds: ['*'] })
  ).key;
  return {
    h,
    server,
    key: async (scopes = ['scim'], orgIds = ['*']) =>
      (await createApiKey(h.models, { name: scopes.join('+'), scopes, orgIds })).key,
    scim: (method, orgId, path, requestOptions = {}) => {
      const agent = request(server);
      let req = agent[method](`/scim/v2/orgs/${orgId}${path}`).set(
        'Authorization',
        `Bearer ${requestOptions.key ?? defaultKey}`,
      );
      for (const [name, value] of Object.entries(requestOptions.headers ?? {})) {
        req = req.set(name, value);
      }
      if (requestOptions.body !== undefined) {
        req = req
          .set('Content-Type', 'application/scim+json')
          .send(JSON.stringify(requestOptions.body));
      }
      return req;
    },
    close: async () => {
      await workers?.close();
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

/** The JSON body of a SCIM response (supertest parses only application/json itself). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it expects
export function scimBody<T = Record<string, unknown>>(res: Response): T {
  expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  return JSON.parse(res.text) as T;
}

/** Checks the SCIM error shape and returns its `status`, `scimType` and `detail`. */
export function scimError(res: Response): { status: string; scimType?: string; detail: string } {
  const body = scimBody<{ schemas: string[]; status: string; scimType?: string; detail: string }>(
    res,
  );
  expect(body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  expect(body.status).toBe(String(res.status));
  expect(typeof body.detail).toBe('string');
  return body;
}

/** The runs of a user, oldest first. */
export async function runsOf(h: ApiHarness, userId: string): Promise<Deactivation[]> {
  return h.models.deactivations.find({ userId }).sort({ createdAt: 1, _id: 1 }).lean();
}

/** Waits for the user's one run to complete and returns it. */
export async function onlyRunCompleted(h: ApiHarness, userId: string): Promise<Deactivation> {
  const runs = await runsOf(h, userId);
  expect(runs).toHaveLength(1);
  return waitForRunStatus(h.models, runs[0]!._id, 'completed');
}

export const scimSchemas = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
} as const;
