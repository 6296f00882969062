import { z } from 'zod';
import type { ResponseSpec } from '../route-definition';

/** Ids are caller-chosen strings (UUID, ULID or similar): printable, no whitespace. */
export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ - only');

/**
 * Free text the store keeps or queries. FerretDB stores documents as PostgreSQL jsonb, which
 * refuses the NUL character: such a string would fail in the store as a 500, so it is a 400.
 */
export function textSchema(maxLength: number): z.ZodString {
  // eslint-disable-next-line no-control-regex -- matching NUL is the point
  const withoutNul = /^[^\u0000]*$/;
  return z.string().max(maxLength).regex(withoutNul, 'no NUL (U+0000) characters');
}

/** A personal field (email, name) that only keys with the admin scope are shown. */
export function adminOnlyTextSchema(
  description = 'Only for keys with the admin scope',
): z.ZodOptional<z.ZodNullable<z.ZodString>> {
  return z.string().nullable().optional().meta({ description });
}

export const orgParamsSchema = z.strictObject({ orgId: idSchema });

/** Page size of list endpoints. */
export const limitSchema = z.coerce.number().int().min(1).max(200).default(50);

/** The contract's error body (see docs/api.md). */
export const errorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable machine-readable code, e.g. team_leader' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ title: 'Error' });

const retryAfter = { description: 'Seconds to wait before retrying', type: 'integer' } as const;

/** The error responses every authenticated route can give. */
export const commonErrorResponses = {
  400: {
    description: 'Invalid request (every zod issue in details), or a malformed pagination cursor',
    schema: errorResponseSchema,
  },
  401: { description: 'Missing or invalid API key', schema: errorResponseSchema },
  403: {
    description:
      'The key lacks the scope or the organization, an actor-bound key names another actor, or a policy refusal (code says which rule)',
    schema: errorResponseSchema,
  },
  404: {
    description:
      'Unknown organization, user, actor (an actorId that names no user of the organization) or resource',
    schema: errorResponseSchema,
  },
  429: {
    description:
      'Too many failed authentications, or too many pending bulks; retry after Retry-After',
    schema: errorResponseSchema,
    headers: { 'Retry-After': retryAfter },
  },
  503: {
    description: 'MongoDB or Redis unavailable; retry after Retry-After',
    schema: errorResponseSchema,
    headers: { 'Retry-After': retryAfter },
  },
} satisfies Record<number, ResponseSpec>;

/** What every route that reads a JSON body can answer about that body. */
export const bodyErrorResponses = {
  413: { description: 'Body over 100 kB', schema: errorResponseSchema },
  415: { description: 'A body that is not application/json', schema: errorResponseSchema },
} satisfies Record<number, ResponseSpec>;

/** What every route that accepts an Idempotency-Key can answer about it. */
export const idempotencyErrorResponses = {
  409: {
    description: 'idempotency_in_flight: the first request with this key is still running; retry',
    schema: errorResponseSchema,
  },
  422: {
    description: 'idempotency_key_reused: the Idempotency-Key was used with another body',
    schema: errorResponseSchema,
  },
} satisfies Record<number, ResponseSpec>;
