import request from 'supertest';
import { apiRoutes } from '../../src/api/app';
import { createApiKey } from '../../src/auth/api-key-repository';
import { createLogger } from '../../src/logging/logger';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import {
  insertFixtures,
  orgFixture,
  sweepReportFixture,
  userFixture,
} from '../../test-kit/factories';
import { schemaViolations, type JsonSchema } from '../support/json-schema-check';

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<
    string,
    {
      description: string;
      headers?: Record<string, { required?: boolean; schema: JsonSchema }>;
      content?: Record<string, { schema: JsonSchema }>;
    }
  >;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
}

let h: ApiHarness;
let doc: OpenApiDocument;

beforeAll(async () => {
  h = await openApiHarness('openapi');
  const res = await request(h.app).get('/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  doc = res.body as OpenApiDocument;
});

afterAll(async () => {
  await h.close();
});

const toOpenApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

function routes(): ReturnType<typeof apiRoutes> {
  return apiRoutes({
    mongo: h.store.mongo,
    models: h.models,
    redis: h.redis,
    ...h.producers,
    metrics: h.metrics,
    dashboard: null,
    security: h.config.security,
    queuePrefix: h.config.queuePrefix,
    logger: createLogger({ logLevel: 'silent' }),
  });
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1.0 document without authentication, with the bearer scheme', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
  });

  it('documents every route the app mounts, with its method and path parameters', () => {
    const mounted = routes();
    expect(mounted.length).toBeGreaterThan(0);
    for (const route of mounted) {
      const path = toOpenApiPath(route.path);
      expect({
        route: `${route.method} ${path}`,
        documented: doc.paths[path]?.[route.method] !== undefined,
      }).toEqual({
        route: `${route.method} ${path}`,
        documented: true,
      });
      const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]);
      const documented = (doc.paths[path]![route.method]!.parameters ?? [])
        .filter((parameter) => parameter.in === 'path')
        .map((parameter) => [parameter.name, parameter.required]);
      expect(documented).toEqual(pathParams.map((name) => [name, true]));
    }
    // And no /v1 operation that is not mounted.
    const mountedOps = new Set(
      mounted.map((route) => `${route.method} ${toOpenApiPath(route.path)}`),
    );
    const documentedV1 = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    expect(documentedV1.filter((op) => !mountedOps.has(op))).toEqual([]);
  });

  it('includes the deactivation routes', () => {
    expect(Object.keys(doc.paths['/v1/orgs/{orgId}/deactivations'] ?? {}).sort()).toEqual([
      'get',
      'post',
    ]);
    expect(Object.keys(doc.paths['/v1/orgs/{orgId}/deactivations/{id}'] ?? {})).toEqual(['get']);
  });

  it('requires bearerAuth on every /v1 operation and documents 400, 401 and 403 in the error shape', () => {
    const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThan(0);
    for (const [path, operations] of v1) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method} ${path}`;
        expect({ where, security: operation.security }).toEqual({
          where,
          security: [{ bearerAuth: [] }],
        });
        for (const status of ['400', '401', '403']) {
          const response = operation.responses[status];
          expect({ where, status, documented: response !== undefined }).toEqual({
            where,
            status,
            documented: true,
          });
          const schema = response!.content?.['application/json']?.schema;
          expect(schema?.required).toEqual(['error']);
          expect(schema?.properties?.error?.required).toEqual(
            expect.arrayContaining(['code', 'message']),
          );
          expect(Object.keys(schema?.properties?.error?.properties ?? {}).sort()).toEqual([
            'code',
            'details',
            'message',
          ]);
        }
      }
    }
  });

  it('describes the POST deactivations body as closed, requiring userId and actorId', () => {
    const post = doc.paths['/v1/orgs/{orgId}/deactivations']!.post!;
    expect(post.requestBody?.required).toBe(true);
    const schema = post.requestBody!.content['application/json']!.schema;
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect([...(schema.required ?? [])].sort()).toEqual(['actorId', 'userId']);
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual([
      'actorId',
      'allowReactivationOnPurchase',
      'reason',
      'userId',
    ]);
    expect(Object.keys(post.responses)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '403', '404', '409', '413', '422']),
    );
    const query = (post.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(query).toEqual(['dryRun']);
    expect(post.parameters?.some((p) => p.in === 'header' && p.name === 'Idempotency-Key')).toBe(
      true,
    );
  });
});

// Every status a route can answer, by operation (issue: schemathesis found undocumented ones).
// 401, 403, 429 (failed-authentication throttle, pending-bulk cap) and 503 come with every
// authenticated route; 400 with any input; 404 with the organization in every path; 413 and
// 415 with a JSON body; 409 and 422 with an Idempotency-Key.
const withBody = [413, 415];
const withIdempotency = [409, 422];
const always = [400, 401, 403, 404, 429, 503];
const expectedStatuses: Record<string, number[]> = {
  'post /v1/orgs/{orgId}/deactivations': [200, 202, ...always, ...withBody, ...withIdempotency],
  'get /v1/orgs/{orgId}/deactivations/{id}': [200, ...always],
  'get /v1/orgs/{orgId}/deactivations': [200, ...always],
  'post /v1/orgs/{orgId}/reactivations': [200, ...always, ...withBody, ...withIdempotency],
  'post /v1/orgs/{orgId}/purchases/check': [200, ...always, ...withBody],
  'post /v1/orgs/{orgId}/deletions': [202, ...always, ...withBody, ...withIdempotency],
  'get /v1/orgs/{orgId}/users': [200, ...always],
  'post /v1/orgs/{orgId}/bulk-deactivations': [202, ...always, ...withBody, ...withIdempotency],
  'get /v1/orgs/{orgId}/bulk-deactivations/{id}': [200, ...always],
  'get /v1/orgs/{orgId}/bulk-deactivations/{id}/items': [200, ...always],
  'get /v1/orgs/{orgId}/sweep-policy': [200, ...always],
  'put /v1/orgs/{orgId}/sweep-policy': [200, ...always, ...withBody],
  'get /v1/orgs/{orgId}/sweeps': [200, ...always],
  'post /v1/orgs/{orgId}/sweeps/{id}/approve': [200, ...always, 409],
  'post /v1/orgs/{orgId}/webhooks': [201, ...always, ...withBody],
  'get /v1/orgs/{orgId}/webhooks': [200, ...always],
  'get /v1/orgs/{orgId}/webhooks/{id}': [200, ...always],
  'patch /v1/orgs/{orgId}/webhooks/{id}': [200, ...always, ...withBody],
  'delete /v1/orgs/{orgId}/webhooks/{id}': [204, ...always],
  'post /v1/orgs/{orgId}/webhooks/{id}/rotate-secret': [200, ...always],
  'get /v1/orgs/{orgId}/webhooks/{id}/deliveries': [200, ...always],
  'post /v1/orgs/{orgId}/webhooks/{id}/deliveries/{deliveryId}/retry': [202, ...always, 409],
};

function operations(): { op: string; method: string; path: string; operation: Operation }[] {
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/v1/'))
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, operation]) => ({
        op: `${method} ${path}`,
        method,
        path,
        operation,
      })),
    );
}

function schemaOf(operation: Operation, status: number): JsonSchema | undefined {
  return operation.responses[String(status)]?.content?.['application/json']?.schema;
}

describe('documented statuses', () => {
  it('lists every status each route can answer, no more and no fewer', () => {
    const documented = Object.fromEntries(
      operations().map(({ op, operation }) => [
        op,
        Object.keys(operation.responses)
          .map(Number)
          .sort((a, b) => a - b),
      ]),
    );
    const expected = Object.fromEntries(
      Object.entries(expectedStatuses).map(([op, statuses]) => [
        op,
        [...statuses].sort((a, b) => a - b),
      ]),
    );
    expect(documented).toEqual(expected);
  });

  it('gives every error status the error shape, Retry-After on 429 and 503, Location on 202', () => {
    for (const { op, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        const where = `${op} ${status}`;
        if (Number(status) >= 400) {
          expect({
            where,
            required: response.content?.['application/json']?.schema.required,
          }).toEqual({ where, required: ['error'] });
        }
        if (status === '429' || status === '503') {
          expect({ where, header: response.headers?.['Retry-After']?.schema.type }).toEqual({
            where,
            header: 'integer',
          });
        }
      }
    }
    for (const op of ['/v1/orgs/{orgId}/deactivations', '/v1/orgs/{orgId}/bulk-deactivations']) {
      expect(doc.paths[op]!.post!.responses['202']!.headers?.Location).toMatchObject({
        required: true,
        schema: { type: 'string' },
      });
    }
  });
});

describe('answers match the document', () => {
  let orgId: string;
  let adminId: string;
  let memberId: string;
  let key: string;
  let otherOrgKey: string;

  beforeAll(async () => {
    const org = orgFixture();
    orgId = org._id;
    const admin = userFixture(orgId, { role: 'admin' });
    const member = userFixture(orgId);
    adminId = admin._id;
    memberId = member._id;
    await insertFixtures(h.models, { organizations: [org], users: [admin, member] });
    key = (await createApiKey(h.models, { name: 'all', scopes: ['*'], orgIds: [orgId] })).key;
    otherOrgKey = (await createApiKey(h.models, { name: 'other', scopes: ['*'], orgIds: ['x'] }))
      .key;
  });

  function call(method: string, path: string): request.Test {
    const url = path
      .replace('{orgId}', orgId)
      .replace('{id}', 'no-such-id')
      .replace('{deliveryId}', 'no-such-delivery');
    const agent = request(h.app);
    const byMethod: Record<string, (url: string) => request.Test> = {
      put: (at) => agent.put(at),
      post: (at) => agent.post(at),
      patch: (at) => agent.patch(at),
      delete: (at) => agent.delete(at),
    };
    return (byMethod[method] ?? ((at: string) => agent.get(at)))(url);
  }

  function expectDocumented(op: string, operation: Operation, res: request.Response): void {
    const schema = schemaOf(operation, res.status);
    expect({ op, status: res.status, documented: schema !== undefined }).toEqual({
      op,
      status: res.status,
      documented: true,
    });
    expect({ op, status: res.status, violations: schemaViolations(res.body, schema!) }).toEqual({
      op,
      status: res.status,
      violations: [],
    });
  }

  it('answers 401, 403, 413 and 415 only where documented, in the documented shape', async () => {
    for (const { op, method, path, operation } of operations()) {
      const unauthenticated = await call(method, path);
      // Failed authentications from one client are throttled (429) after a few.
      expect({ op, unauthorized: [401, 429].includes(unauthenticated.status) }).toEqual({
        op,
        unauthorized: true,
      });
      expectDocumented(op, operation, unauthenticated);

      const wrongOrg = await call(method, path).set('Authorization', `Bearer ${otherOrgKey}`);
      expect({ op, status: wrongOrg.status }).toEqual({ op, status: 403 });
      expectDocumented(op, operation, wrongOrg);

      if (!operation.requestBody) continue;
      const tooLarge = await call(method, path)
        .set('Authorization', `Bearer ${key}`)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ padding: 'x'.repeat(110_000) }));
      expect({ op, status: tooLarge.status }).toEqual({ op, status: 413 });
      expectDocumented(op, operation, tooLarge);

      const notJson = await call(method, path)
        .set('Authorization', `Bearer ${key}`)
        .set('Content-Type', 'text/plain')
        .send('{}');
      expect({ op, status: notJson.status }).toEqual({ op, status: 415 });
      expect(notJson.body).toMatchObject({ error: { code: 'unsupported_media_type' } });
      expectDocumented(op, operation, notJson);
    }
  });

  // Found by schemathesis: PostgreSQL's jsonb (under FerretDB) refuses NUL, so a NUL that
  // reached the store answered 500.
  it('refuses NUL characters in text with a 400 before they reach the store', async () => {
    const authorized = (method: string, path: string): request.Test =>
      call(method, path).set('Authorization', `Bearer ${key}`);
    const answers = [
      await authorized('post', '/v1/orgs/{orgId}/purchases/check').send({ email: '\u0000@0' }),
      await authorized('post', '/v1/orgs/{orgId}/deactivations').send({
        userId: memberId,
        actorId: adminId,
        reason: 'a\u0000b',
      }),
      await request(h.app)
        .post(`/v1/orgs/${orgId}/sweeps/%00/approve`)
        .set('Authorization', `Bearer ${key}`),
    ];
    expect(
      answers.map((res) => [res.status, (res.body as { error?: { code?: string } }).error?.code]),
    ).toEqual([
      [400, 'validation_failed'],
      [400, 'validation_failed'],
      [400, 'validation_failed'],
    ]);
  });

  it('returns sweep reports, a failed one with its error, as the SweepReport schema says', async () => {
    await h.models.sweeps.create(
      sweepReportFixture(orgId, {
        _id: `${orgId}-failed`,
        status: 'failed',
        finishedAt: new Date(),
        error: 'the store did not answer',
      }),
    );
    const res = await call('get', '/v1/orgs/{orgId}/sweeps').set('Authorization', `Bearer ${key}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      items: [{ status: 'failed', error: 'the store did not answer' }],
    });
    const operation = doc.paths['/v1/orgs/{orgId}/sweeps']!.get!;
    expect(schemaViolations(res.body, schemaOf(operation, 200)!)).toEqual([]);
  });

  it('returns the user listing, with emails for an admin key, as documented', async () => {
    const res = await call('get', '/v1/orgs/{orgId}/users').set('Authorization', `Bearer ${key}`);
    expect(res.status).toBe(200);
    expect((res.body as { items: unknown[] }).items).toHaveLength(2);
    const operation = doc.paths['/v1/orgs/{orgId}/users']!.get!;
    expect(schemaViolations(res.body, schemaOf(operation, 200)!)).toEqual([]);
  });
});
