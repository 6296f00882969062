import { z } from 'zod';
import { stepNames, type StepName } from '../domain/step-names';
import { queueNames, type QueueName } from './queue-names';

const isStepName = (value: unknown): value is StepName => stepNames.some((name) => name === value);

/** A deactivation's parent job: ids only, never personal data. */
const runJobData = z.object({
  runId: z.string(),
  orgId: z.string(),
  userId: z.string(),
  /** The id of the API request that accepted the run, so its logs can be followed. */
  requestId: z.string().optional(),
});

/**
 * A step job: the run's ids and which step. An unknown step keeps the code the steps use for
 * data they cannot work with (`params.code`, read by the job registry).
 */
const stepJobData = runJobData.extend({
  step: z.custom<StepName>(isStepName, {
    params: { code: 'invalid_step_data' },
    error: (issue) => `Step "${String(issue.input)}" does not exist`,
  }),
});

const bulkJobData = z.object({ bulkId: z.string(), orgId: z.string() });
const erasureJobData = z.object({ orgId: z.string(), userId: z.string() });
const sweepJobData = z.object({ orgId: z.string() });
/** A webhook delivery: ids only; the payload is read from the stored event. */
const deliveryJobData = z.object({
  deliveryId: z.string(),
  orgId: z.string(),
  endpointId: z.string(),
  eventId: z.string(),
});
/** Maintenance jobs come from job schedulers and carry nothing. */
const noData = z.object({});

/** The step jobs' kinds: one per step, all of the same data; a missing step is a type error. */
const stepKinds = {
  'revoke-tokens': stepJobData,
  'cancel-subscriptions': stepJobData,
  'transfer-opportunities': stepJobData,
  'remove-from-teams': stepJobData,
  'blocklist-email': stepJobData,
} as const satisfies Record<StepName, typeof stepJobData>;

/**
 * Every job the service queues: per queue, per kind (the first word of the job's name, see
 * `jobKind`), the zod schema of its data. Producers write data of these types; a worker parses
 * a job's data with its kind's schema before the handler sees it, and refuses to start without a
 * handler for each kind (src/workers/job-registry.ts).
 */
export const jobKinds = {
  [queueNames.runs]: { deactivate: runJobData },
  [queueNames.steps]: stepKinds,
  [queueNames.bulk]: { bulk: bulkJobData },
  [queueNames.sweeps]: { sweep: sweepJobData },
  [queueNames.erasures]: { erase: erasureJobData },
  [queueNames.webhooks]: { deliver: deliveryJobData },
  [queueNames.maintenance]: { 'expire-idempotency-records': noData, 'reconcile-runs': noData },
} as const satisfies Record<QueueName, Record<string, z.ZodType>>;

/** The job kinds of the service, by queue. */
export type JobKinds = typeof jobKinds;

/** The data of a job of `kind` on `queue`, as parsed. */
export type JobData<
  Q extends QueueName,
  K extends keyof JobKinds[Q],
> = JobKinds[Q][K] extends z.ZodType ? z.infer<JobKinds[Q][K]> : never;

/** What a deactivation job carries. */
export type RunJobData = z.infer<typeof runJobData>;
/** A step job's data: the run's ids and which step. */
export type StepJobData = z.infer<typeof stepJobData>;
/** A bulk job's data: ids only. */
export type BulkJobData = z.infer<typeof bulkJobData>;
/** What an erasure job carries: ids only, never personal data. */
export type ErasureJobData = z.infer<typeof erasureJobData>;
/** A sweep job's data: the organization id only. */
export type SweepJobData = z.infer<typeof sweepJobData>;
/** The job data of a webhook delivery: ids only. */
export type DeliveryJobData = z.infer<typeof deliveryJobData>;
