import { ZodError } from 'zod';
import { AppError } from './app-error';

const unavailableErrorNames = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

const unavailableMessages = [
  /enableOfflineQueue/i, // ioredis producer while Redis is away
  /Connection is closed/i,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/,
  /OOM command not allowed/i, // Redis full under noeviction
  /Reached the max retries per request/i,
  /connection .* closed/i,
  // FerretDB answering while the PostgreSQL under it is away.
  /failed to connect to|dial error|connection refused/i,
  /does not allow operations .*disconnected|buffering timed out/i,
];

function describe(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: typeof error, message: String(error) };
}

/**
 * Turns anything thrown into an {@link AppError}: infrastructure outages become the retryable
 * `service_unavailable`, zod failures `validation_failed`, everything else `internal`.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) {
    return new AppError('validation_failed', 'The request is not valid', { details: error.issues });
  }
  const { name, message } = describe(error);
  if (
    unavailableErrorNames.has(name) ||
    unavailableMessages.some((pattern) => pattern.test(message))
  ) {
    return new AppError(
      'service_unavailable',
      'A backing service (MongoDB or Redis) is unavailable; try again',
      {
        cause: error,
      },
    );
  }
  return new AppError('internal', 'Internal error', { cause: error });
}
