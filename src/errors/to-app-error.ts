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

/** Node's socket error codes: the connection to MongoDB or Redis broke. */
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

const unavailableMessages = [
  /enableOfflineQueue/i, // ioredis producer while Redis is away
  /Connection is closed/i,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/,
  /socket has been ended|socket hang up/i,
  /OOM command not allowed/i, // Redis full under noeviction
  /Reached the max retries per request/i,
  /connection .* closed/i,
  // FerretDB answering while the PostgreSQL under it is away, stopping or starting.
  /failed to connect to|dial error|connection refused|unexpected EOF/i,
  /terminating connection|database system is (shutting down|starting up|in recovery)/i,
  /server closed the connection|conn closed|broken pipe|connection reset by peer/i,
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
  const code = (error as { code?: unknown } | null)?.code;
  if (
    unavailableErrorNames.has(name) ||
    (typeof code === 'string' && unavailableCodes.has(code)) ||
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
