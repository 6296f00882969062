import { z } from 'zod';

/** Ids are caller-chosen strings (UUID, ULID or similar): printable, no whitespace. */
export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'letters, digits and . _ : @ - only');

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

/** The error responses every authenticated route can give. */
export const commonErrorResponses = {
  400: { description: 'Invalid request; every zod issue in details', schema: errorResponseSchema },
  401: { description: 'Missing or invalid API key', schema: errorResponseSchema },
  403: {
    description:
      'Missing scope or organization, a key bound to another actor (actor_mismatch), or a policy refusal',
    schema: errorResponseSchema,
  },
  404: { description: 'Unknown organization, user or run', schema: errorResponseSchema },
  503: { description: 'MongoDB or Redis unavailable; retry', schema: errorResponseSchema },
};
