import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { idSchema, limitSchema, orgParamsSchema } from './common-schemas';

const daysSchema = z.coerce.number().int().min(1).max(3650);

export const userListQuerySchema = z.strictObject({
  activity: z.enum(['active', 'inactive', 'never_logged_in']).optional(),
  inactiveDays: daysSchema.default(90),
  status: z.enum(['active', 'inactive']).optional(),
  kind: z.enum(['employee', 'customer']).optional(),
  sort: z.literal('lastLoginAt').default('lastLoginAt'),
  limit: limitSchema,
  cursor: z.string().max(300).optional(),
});

export const userListSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(['employee', 'customer']),
      role: z.enum(['admin', 'manager', 'member']),
      status: z.enum(['active', 'inactive', 'deleted']),
      lastLoginAt: z.iso.datetime().nullable(),
      activity: z.enum(['active', 'inactive', 'never_logged_in']),
      email: z
        .string()
        .nullable()
        .optional()
        .meta({ description: 'Only for keys with the admin scope' }),
      name: z
        .string()
        .nullable()
        .optional()
        .meta({ description: 'First and last name; only for keys with the admin scope' }),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const bulkBodySchema = z
  .strictObject({
    actorId: idSchema,
    userIds: z.array(idSchema).min(1).max(10_000).optional(),
    filter: z
      .strictObject({
        activity: z.enum(['inactive', 'never_logged_in']),
        inactiveDays: z.number().int().min(1).max(3650),
      })
      .optional(),
    dryRun: z.boolean().default(false),
    reason: z.string().max(1000).optional(),
    allowReactivationOnPurchase: z.boolean().optional(),
  })
  .refine((body) => (body.userIds === undefined) !== (body.filter === undefined), {
    message: 'Give either userIds or filter, not both and not neither',
    path: ['userIds'],
  });

export const bulkParamsSchema = orgParamsSchema.extend({ id: idSchema });

export const bulkSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    actorId: z.string(),
    source: z.enum(['bulk', 'sweep']),
    status: z.enum(['pending', 'running', 'completed', 'held', 'failed']),
    dryRun: z.boolean(),
    filter: z.object({ activity: z.string(), inactiveDays: z.number() }).nullable(),
    matched: z.number().int(),
    processed: z.number().int(),
    enqueued: z.number().int(),
    planned: z.number().int().meta({ description: 'Dry runs: users who would be deactivated' }),
    completedRuns: z.number().int(),
    failedRuns: z.number().int(),
    skipped: z.number().int(),
    skippedByReason: z.record(z.string(), z.number().int()),
    createdAt: z.iso.datetime(),
    startedAt: z.iso.datetime().nullable(),
    finishedAt: z.iso.datetime().nullable(),
  })
  .meta({ title: 'BulkDeactivation' });

export const sweepPolicySchema = z
  .strictObject({
    enabled: z.boolean(),
    inactiveDays: z.number().int().min(30).max(3650),
    neverLoggedInDays: z.number().int().min(1).max(3650).nullable().default(null),
    exemptRoles: z.array(z.enum(['admin', 'manager', 'member'])).default([]),
    cron: z.string().min(1).max(100),
    timezone: z.string().min(1).max(64).default('UTC'),
    dryRun: z.boolean().default(false),
    maxPerRun: z.number().int().min(1).max(1_000_000).default(500),
  })
  .superRefine((policy, ctx) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: policy.timezone });
    } catch {
      ctx.addIssue({
        code: 'custom',
        path: ['timezone'],
        message: `Unknown timezone "${policy.timezone}"`,
      });
      return;
    }
    try {
      CronExpressionParser.parse(policy.cron, { tz: policy.timezone, strict: false });
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        path: ['cron'],
        message: `Not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  })
  .meta({ title: 'SweepPolicy' });

export const sweepParamsSchema = orgParamsSchema.extend({ id: z.string().min(1).max(300) });

export const sweepListQuerySchema = z.strictObject({
  limit: limitSchema,
  cursor: z.string().max(300).optional(),
});

export const sweepReportSchema = z
  .object({
    id: z.string(),
    orgId: z.string(),
    status: z.enum(['running', 'held', 'approved', 'completed', 'dry_run', 'failed']),
    dryRun: z.boolean(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().nullable(),
    matched: z.number().int(),
    selected: z.number().int(),
    deactivated: z.number().int(),
    skippedByReason: z.record(z.string(), z.number().int()),
    held: z.boolean(),
    maxPerRun: z.number().int(),
    bulkId: z.string().nullable(),
    approvedBy: z.string().nullable(),
    approvedAt: z.iso.datetime().nullable(),
  })
  .meta({ title: 'SweepReport' });
