import type { JobsOptions } from 'bullmq';
import { queueNames, type QueueName } from './queue-names';

const day = 24 * 60 * 60;

/** Exponential backoff from `delay` ms; with jitter, retries of many jobs spread out. */
const exponential = (delay: number, jitter?: number): JobsOptions['backoff'] => ({
  type: 'exponential',
  delay,
  ...(jitter === undefined ? {} : { jitter }),
});

/**
 * Per-run jobs (parents, steps, erasures) retry for about four minutes (~1 s, 2 s, 4 s …).
 * Completed jobs are kept briefly for the dashboard; failed ones much longer, for operators.
 */
const perRun: JobsOptions = {
  attempts: 8,
  backoff: exponential(1_000, 0.5),
  removeOnComplete: { age: day, count: 1_000 },
  removeOnFail: { age: 14 * day, count: 10_000 },
};

/** The name of the webhooks queue's custom backoff strategy (src/webhooks/webhook-backoff.ts). */
export const webhookBackoffType = 'webhook';

/**
 * The retry and retention options of every queue's jobs, written once: producers add jobs and
 * schedulers with them (docs/jobs.md has the table).
 */
export const jobOptions = {
  [queueNames.runs]: perRun,
  [queueNames.steps]: perRun,
  [queueNames.erasures]: perRun,
  [queueNames.bulk]: {
    attempts: 10,
    backoff: exponential(2_000, 0.5),
    removeOnComplete: { age: 7 * day, count: 1_000 },
    removeOnFail: { age: 30 * day, count: 10_000 },
  },
  [queueNames.sweeps]: {
    attempts: 3,
    backoff: exponential(5_000),
    removeOnComplete: 100,
    removeOnFail: 1_000,
  },
  // Webhook deliveries: attempts come from WEBHOOK_RETRY_SCHEDULE_MS (deliveryJobOptions).
  // Delivered jobs leave Redis (the delivery log is in MongoDB); failed ones stay a week for the
  // dashboard's retry.
  [queueNames.webhooks]: {
    backoff: { type: webhookBackoffType },
    removeOnComplete: true,
    removeOnFail: { age: 7 * day },
  },
  // Housekeeping runs again on its next fire rather than retrying.
  [queueNames.maintenance]: { removeOnComplete: 10, removeOnFail: 100 },
} as const satisfies Record<QueueName, JobsOptions>;
