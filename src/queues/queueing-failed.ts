import { AppError } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';

/**
 * The error of a request whose records are written but whose job could not be added: 503
 * `service_unavailable` (an `AppError` of another code keeps it), with `message` saying what
 * the caller should do next. The one place this remap is written, for every use case that
 * writes first and enqueues second.
 */
export function queueingFailed(
  error: unknown,
  message: string,
  details?: Record<string, unknown>,
): AppError {
  const appError = toAppError(error);
  const code = appError.code === 'internal' ? 'service_unavailable' : appError.code;
  return new AppError(code, message, { details, cause: error });
}
