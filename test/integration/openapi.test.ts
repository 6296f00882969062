import request from 'supertest';
import { apiRoutes } from '../../src/api/app';
import { createLogger } from '../../src/logging/logger';
import { openApiHarness, type ApiHarness } from '../support/api-harness';

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: JsonSchema }> }
  >;
}
interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: unknown;
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
