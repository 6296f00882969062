import { z } from 'zod';
import { idempotencyKeyPattern } from './idempotency';
import type { ResponseSpec, RouteDefinition } from './route-definition';
import { bodyErrorResponses, idempotencyErrorResponses } from './schemas/common-schemas';

type JsonSchema = Record<string, unknown>;

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  // The dialect is the document's (OpenAPI 3.1 is JSON Schema 2020-12), not each schema's.
  delete json.$schema;
  return json;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = toSchema(schema, 'input') as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

/**
 * Every response a route can give: its own, plus those that follow from how it is mounted (a
 * JSON body can be too large or of another type; an Idempotency-Key can be in flight or reused),
 * so a route cannot forget one. The route's own description of a status wins.
 */
function documentedResponses(route: RouteDefinition): Record<number, ResponseSpec> {
  const none: Record<number, ResponseSpec> = {};
  return {
    ...(route.body ? bodyErrorResponses : none),
    ...(route.idempotent ? idempotencyErrorResponses : none),
    ...route.responses,
  };
}

function responseObject(spec: ResponseSpec): JsonSchema {
  const headers = Object.entries(spec.headers ?? {}).map(([name, header]) => [
    name,
    {
      description: header.description,
      required: header.required ?? false,
      schema: { type: header.type },
    },
  ]);
  return {
    description: spec.description,
    ...(headers.length > 0 ? { headers: Object.fromEntries(headers) } : {}),
    ...(spec.schema
      ? { content: { 'application/json': { schema: toSchema(spec.schema, 'output') } } }
      : {}),
  };
}

/**
 * The OpenAPI 3.1 document, generated from the same route definitions and zod schemas that
 * validate requests, so the document cannot drift from the API.
 */
export function buildOpenApiDocument(routes: RouteDefinition[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...parametersOf(route.params, 'path'),
      ...parametersOf(route.query, 'query'),
    ];
    if (route.idempotent) {
      parameters.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'Replays the first response for the same key and body; 422 for another body',
        schema: { type: 'string', pattern: idempotencyKeyPattern.source },
      });
    }
    const responses = Object.fromEntries(
      Object.entries(documentedResponses(route)).map(([status, spec]) => [
        status,
        responseObject(spec),
      ]),
    );
    paths[path] ??= {};
    paths[path][route.method] = {
      summary: route.summary,
      ...(route.scope
        ? { security: [{ bearerAuth: [] }], 'x-required-scope': route.scope }
        : { security: [] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'offboard',
      version: '1.0.0',
      description:
        'Takes users out of a product safely. Every /v1 call carries "Authorization: Bearer <api key>"; keys are bound to scopes (read, write, delete, purchases, admin, *) and organizations.',
    },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key from `npm run keys -- create`',
        },
      },
    },
  };
}
