import { UnrecoverableError } from 'bullmq';
import { toAppError } from '../errors/to-app-error';

/**
 * The single place where errors become BullMQ signals: a non-retryable {@link AppError} fails the
 * job at once (`UnrecoverableError`), anything else is rethrown for BullMQ's backoff.
 */
export function toJobError(error: unknown): Error {
  const appError = toAppError(error);
  if (!appError.retryable) {
    const signal = new UnrecoverableError(`${appError.code}: ${appError.message}`);
    signal.cause = error;
    return signal;
  }
  return error instanceof Error ? error : appError;
}
