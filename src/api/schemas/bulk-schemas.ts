import { z } from 'zod';
import { sweepScheduleProblems } from '../../sweeps/sweep-cron';
import { defaultMaxPerRun } from '../../sweeps/sweep-policy';
import {
  adminOnlyTextSchema,
  idSchema,
  limitSchema,
  orgParamsSchema,
  textSchema,
} from './common-schemas';

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
      email: adminOnlyTextSchema(),
      name: adminOnlyTextSchema('First and last name; only for keys with the admin scope'),
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
        inactiveDays: z.number().int().min(1).max(3650).default(90).meta({
          description:
            'Last login more than this many days ago; default 90 as in the user listing; ignored for never_logged_in',
        }),
      })
      .optional(),
    dryRun: z.boolean().default(false),
    reason: textSchema(1000).optional(),
    allowReactivationOnPurchase: z.boolean().optional(),
  })
  .refine((body) => (body.userIds === undefined) !== (body.filter === undefined), {
    message: 'Give either userIds or filter, not both and not neither',
    path: ['userIds'],
  })
  // The refinement, as the document can say it, so clients (and fuzzers) know the rule.
  .meta({ oneOf: [{ required: ['userIds'] }, { required: ['filter'] }] });

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
    error: z
      .string()
      .nullable()
      .meta({ description: 'Why a failed bulk failed (`code: message`); null otherwise' }),
  })
  .meta({ title: 'BulkDeactivation' });

export const sweepPolicySchema = z
  .strictObject({
    enabled: z.boolean(),
    inactiveDays: z.number().int().min(30).max(3650),
    neverLoggedInDays: z.number().int().min(1).max(3650).nullable().default(null),
    exemptRoles: z.array(z.enum(['admin', 'manager', 'member'])).default([]),
    cron: textSchema(100).min(1).meta({
      description:
        'Five cron fields (minute hour day-of-month month day-of-week) in `timezone`; no seconds, macros or H; at least an hour between fires',
    }),
    timezone: textSchema(64).min(1).default('UTC'),
    dryRun: z.boolean().default(false),
    maxPerRun: z.number().int().min(1).max(1_000_000).default(defaultMaxPerRun),
  })
  .superRefine((policy, ctx) => {
    for (const problem of sweepScheduleProblems(policy)) {
      ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
    }
  })
  .meta({ title: 'SweepPolicy' });

export const sweepParamsSchema = orgParamsSchema.extend({ id: textSchema(300).min(1) });

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
    error: z.string().nullable().meta({ description: 'Why a failed sweep failed' }),
  })
  .meta({ title: 'SweepReport' });
