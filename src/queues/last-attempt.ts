import type { Job } from 'bullmq';
import { toAppError } from '../errors/to-app-error';

/**
 * Whether this failure of `job` is its last: the error cannot heal (BullMQ fails the job at once,
 * see src/workers/job-error.ts), or the job has no attempt left. Whatever the job owns in
 * MongoDB is then marked failed, since nothing will run it again unless an operator retries it.
 */
export function isLastAttempt(job: Pick<Job, 'attemptsMade' | 'opts'>, error: unknown): boolean {
  return !toAppError(error).retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * What a failed job records of its error (a step's `error`, a bulk's, a sweep report's): the
 * code, then the error's own message, which for an unexpected error says more than the generic
 * text its `internal` code carries.
 */
export function failureText(error: unknown): string {
  return `${toAppError(error).code}: ${error instanceof Error ? error.message : String(error)}`;
}
