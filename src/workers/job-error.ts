import { DelayedError, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { toAppError } from '../errors/to-app-error';

/**
 * The single place where errors become BullMQ signals: a non-retryable {@link AppError} fails the
 * job at once (`UnrecoverableError`), anything else is rethrown for BullMQ's backoff. BullMQ's own
 * signals of a job that moved itself to wait (delayed, waiting for children) pass through as they
 * are: they are not failures.
 */
export function toJobError(error: unknown): Error {
  if (error instanceof DelayedError || error instanceof WaitingChildrenError) return error;
  const appError = toAppError(error);
  if (!appError.retryable) {
    const signal = new UnrecoverableError(`${appError.code}: ${appError.message}`);
    signal.cause = error;
    return signal;
  }
  return error instanceof Error ? error : appError;
}
