import { z } from 'zod';
import { runStatuses, stepNames, stepStatuses, runSources } from '../../models/deactivation.model';
import { idSchema, limitSchema, orgParamsSchema, textSchema } from './common-schemas';

export const deactivationBodySchema = z.strictObject({
  userId: idSchema,
  actorId: idSchema,
  reason: textSchema(1000).optional(),
  allowReactivationOnPurchase: z.boolean().optional(),
});

export const deactivationQuerySchema = z.strictObject({
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => value === 'true'),
});

export const runParamsSchema = orgParamsSchema.extend({ id: idSchema });

export const runListQuerySchema = z.strictObject({
  status: z.enum(runStatuses).optional(),
  userId: idSchema.optional(),
  limit: limitSchema,
  cursor: z.string().max(200).optional(),
});

const countsSchema = z.object(
  Object.fromEntries(stepNames.map((name) => [name, z.number().int()])),
);

export const planSchema = z
  .object({
    userKind: z.enum(['employee', 'customer']),
    allowReactivationOnPurchase: z.boolean(),
    cutoff: z.iso.datetime().meta({ description: 'Tokens issued up to this instant are revoked' }),
    steps: z.object(Object.fromEntries(stepNames.map((name) => [name, z.boolean()]))),
    transferTo: z.string().nullable(),
    transferTeamId: z.string().nullable(),
    teamIds: z.array(z.string()),
    counts: countsSchema.nullable().meta({
      description:
        "What each step would touch, in a dry run's answer; null in a run's plan (runs are not counted: their step results say what changed)",
    }),
  })
  .meta({ title: 'Plan' });

export const runSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    userId: z.string(),
    actorId: z.string(),
    source: z.enum(runSources),
    status: z.enum(runStatuses),
    reason: z.string().nullable(),
    allowReactivationOnPurchase: z.boolean(),
    plan: planSchema,
    steps: z.array(
      z.object({
        name: z.enum(stepNames),
        status: z.enum(stepStatuses),
        attempts: z.number().int(),
        result: z.record(z.string(), z.unknown()).nullable(),
        error: z.string().nullable(),
      }),
    ),
    error: z.string().nullable(),
    createdAt: z.iso.datetime(),
    completedAt: z.iso.datetime().nullable(),
  })
  .meta({ title: 'Run' });

export const runListSchema = z.object({
  items: z.array(runSchema),
  nextCursor: z.string().nullable(),
});

export const dryRunSchema = z.object({
  dryRun: z.literal(true),
  userId: z.string(),
  // A dry run always counts.
  plan: planSchema.extend({
    counts: countsSchema.meta({ description: 'What each step would touch' }),
  }),
});
