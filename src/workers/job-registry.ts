import type { Job } from 'bullmq';
import { AppError } from '../errors/app-error';
import type { QueueName } from '../queues/queue-names';

/**
 * Handles one named job; its return value becomes the job's return value. `token` is the
 * worker's lock on the job, for handlers that move their job themselves (to delayed).
 */
export type JobHandler = (job: Job, token?: string) => Promise<unknown>;

/** For each queue a worker serves, the job names it expects and their handlers. */
export type JobRegistry = Partial<Record<QueueName, Record<string, JobHandler | undefined>>>;

/**
 * Refuses a registry in which any declared job has no handler, so a worker never starts that
 * would leave jobs of a known name waiting forever.
 */
export function assertRegistryComplete(
  registry: JobRegistry,
  declared: Partial<Record<QueueName, readonly string[]>>,
): void {
  const missing = Object.entries(declared).flatMap(([queue, names]) =>
    names
      .filter((name) => registry[queue as QueueName]?.[name] === undefined)
      .map((name) => `${queue}/${name}`),
  );
  if (missing.length > 0) {
    throw new AppError('config_invalid', `Jobs without a handler: ${missing.join(', ')}`);
  }
}

/** Finds the handler for `job`, or fails it for good: a job nobody handles never heals. */
export function handlerFor(
  registry: JobRegistry,
  queue: QueueName,
  job: Job,
  kind: string,
): JobHandler {
  const handler = registry[queue]?.[kind];
  if (!handler) {
    throw new AppError(
      'no_job_handler',
      `No handler for job "${job.name}" (${kind}) on queue "${queue}"`,
    );
  }
  return handler;
}
