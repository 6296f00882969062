import { ZodError } from 'zod';
import { isStoreUnavailable } from '../store/store-unavailable';
import { AppError } from './app-error';

/** Node's socket error codes: the connection to MongoDB or Redis broke. */
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** Redis's and the sockets' texts; the store's own are in src/store/store-unavailable.ts. */
const unavailableMessages = [
  /enableOfflineQueue/i, // ioredis producer while Redis is away
  /Connection is closed/i,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/,
  /socket has been ended|socket hang up/i,
  /OOM command not allowed/i, // Redis full under noeviction
  /Reached the max retries per request/i,
  // A Redis Cluster between a master's death and its replica's promotion: the slot has no
  // master (CLUSTERDOWN), is moving (TRYAGAIN), or ioredis gave up following the topology.
  /^CLUSTERDOWN|^TRYAGAIN|^LOADING/,
  /Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/i,
];

/**
 * A Redis transaction (BullMQ adds a flow in one MULTI) that Redis refused as a whole: ioredis
 * throws EXECABORT and keeps each queued command's refusal in `previousErrors`. It is an outage
 * when one of those is (Redis full, going away), not the generic failure its text suggests.
 */
function isAbortedByOutage(error: unknown, message: string): boolean {
  if (!message.startsWith('EXECABORT')) return false;
  const previous = (error as { previousErrors?: unknown } | null)?.previousErrors;
  return (
    Array.isArray(previous) &&
    previous.some((cause) => {
      const text = cause instanceof Error ? cause.message : String(cause);
      return unavailableMessages.some((pattern) => pattern.test(text));
    })
  );
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
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (
    isStoreUnavailable(error) ||
    (typeof code === 'string' && unavailableCodes.has(code)) ||
    unavailableMessages.some((pattern) => pattern.test(message)) ||
    isAbortedByOutage(error, message)
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
