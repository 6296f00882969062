import { errorCodes, type ErrorCode } from './error-codes';

/**
 * The one error type of the service. Its `code` decides the HTTP status (api/error-handler) and
 * whether a job retries (workers/job-error), so code paths throw meaning, not transport details.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details;
  }

  get httpStatus(): number {
    return errorCodes[this.code].httpStatus;
  }

  get retryable(): boolean {
    return errorCodes[this.code].retryable;
  }
}
