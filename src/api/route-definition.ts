import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { ApiKey, ApiKeyScope } from '../models/api-key.model';

/** What a handler returns; the route layer writes it (and records it for idempotent replays). */
export interface HandlerResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** One documented response of a route. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Response headers by name. */
  headers?: Record<string, ResponseHeaderSpec>;
}

/** One documented response header. */
export interface ResponseHeaderSpec {
  description: string;
  type: 'integer' | 'string';
  /** Always sent with this response. */
  required?: boolean;
}

/**
 * One HTTP route: its schemas validate the request and generate the OpenAPI document, so the
 * two cannot drift apart.
 */
export interface RouteDefinition<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express style, e.g. `/v1/orgs/:orgId/deactivations/:id`. */
  path: string;
  summary: string;
  /** The scope required, or `null` for unauthenticated routes. */
  scope: ApiKeyScope | null;
  params?: P;
  query?: Q;
  body?: B;
  /** Accepts an `Idempotency-Key` header. */
  idempotent?: boolean;
  responses: Record<number, ResponseSpec>;
  handler: (input: {
    params: z.output<P>;
    query: z.output<Q>;
    body: z.output<B>;
    apiKey: ApiKey | null;
    req: Request;
    res: Response;
  }) => Promise<HandlerResult>;
}

/** Keeps a route's schema types attached to its handler. */
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  route: RouteDefinition<P, Q, B>,
): RouteDefinition {
  return route;
}
