import type { EventEmitter } from 'node:events';
import { toAppError } from '../errors/to-app-error';
import type { Logger } from './logger';

/** Something that emits `error` events: a BullMQ Queue, FlowProducer or Worker. */
export type ErrorSource = Pick<EventEmitter, 'on'>;

/**
 * Turns the `error` events of the queue objects into one structured line per incident: while
 * Redis is away every queue, flow producer and worker on a connection emits an error on every
 * reconnect attempt, which unlistened BullMQ prints as raw stacks and listened naively floods the
 * log. Errors are grouped by connection and kind; a group logs once, then at most once per
 * interval with the count it suppressed in between, and a lost connection logs once more when it
 * is back.
 */
export interface ErrorIncidentLog {
  /** Routes `source`'s `error` events here; `connection` names the Redis client it uses. */
  routeErrors: (source: ErrorSource, connection: string, label: string) => void;
  /** Closes `connection`'s outage with one line each time `client` is ready again. */
  routeRecovery: (client: Pick<EventEmitter, 'on'>, connection: string) => void;
  /** Reports one error (what {@link routeErrors} does for each event). */
  report: (connection: string, label: string, error: unknown) => void;
  /** Reports that `connection` works again. */
  recovered: (connection: string) => void;
}

type Kind = 'connection' | 'job-lost' | 'other';

interface Incident {
  since: number;
  loggedAt: number;
  suppressed: number;
}

/** How often one incident may log again while it lasts, unless told otherwise. */
export const defaultIncidentIntervalMs = 60_000;

const jobLostPatterns = [
  /^could not renew lock for job/,
  /^Missing (key|lock) for job/,
  /^Lock mismatch for job/,
];

function kindOf(error: unknown): Kind {
  const message = error instanceof Error ? error.message : String(error);
  // A job whose key or lock vanished from Redis (data lost with a restart, or a job taken over
  // as stalled) fails to renew its lock or to finish. BullMQ emits one error per job, and after
  // a lost connection names the "job" by single characters: the count is what matters.
  if (jobLostPatterns.some((pattern) => pattern.test(message))) return 'job-lost';
  return toAppError(error).code === 'service_unavailable' ? 'connection' : 'other';
}

const messages: Record<Kind, { first: string; again: string }> = {
  connection: { first: 'redis unavailable', again: 'redis still unavailable' },
  'job-lost': {
    first:
      'jobs lost their lock or key in Redis; BullMQ retries them as stalled, the reconciler re-queues lost runs',
    again: 'jobs still losing their lock or key in Redis',
  },
  other: { first: 'queue error', again: 'queue errors continue' },
};

/** Creates an {@link ErrorIncidentLog} writing to `logger`. */
export function createErrorIncidentLog(
  logger: Logger,
  options: { intervalMs?: number; now?: () => number } = {},
): ErrorIncidentLog {
  const intervalMs = options.intervalMs ?? defaultIncidentIntervalMs;
  const now = options.now ?? Date.now;
  const incidents = new Map<string, Incident>();

  const report = (connection: string, label: string, error: unknown): void => {
    const kind = kindOf(error);
    const key = `${connection}/${kind}`;
    const at = now();
    const open = incidents.get(key);
    if (open && at - open.loggedAt < intervalMs) {
      open.suppressed += 1;
      return;
    }
    const code = (error as { code?: unknown } | null)?.code;
    const fields = {
      connection,
      source: label,
      kind,
      ...(typeof code === 'string' ? { code } : {}),
      // Only unexpected errors keep their stack: a refused connection's says nothing.
      ...(kind === 'other'
        ? { err: error }
        : kind === 'connection'
          ? { error: error instanceof Error ? error.message : String(error) }
          : {}),
      ...(open ? { suppressed: open.suppressed, sinceMs: at - open.since } : {}),
    };
    const message = open ? messages[kind].again : messages[kind].first;
    if (kind === 'other') logger.error(fields, message);
    else logger.warn(fields, message);
    incidents.set(key, { since: open?.since ?? at, loggedAt: at, suppressed: 0 });
  };

  const recovered = (connection: string): void => {
    const key = `${connection}/connection`;
    const open = incidents.get(key);
    if (!open) return;
    incidents.delete(key);
    logger.info(
      { connection, kind: 'connection', suppressed: open.suppressed, downMs: now() - open.since },
      'redis available again',
    );
  };

  return {
    report,
    recovered,
    routeErrors: (source, connection, label) => {
      source.on('error', (error: unknown) => {
        report(connection, label, error);
      });
    },
    routeRecovery: (client, connection) => {
      client.on('ready', () => {
        recovered(connection);
      });
    },
  };
}
