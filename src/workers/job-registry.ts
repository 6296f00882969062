import type { Job } from 'bullmq';
import type { z } from 'zod';
import { AppError } from '../errors/app-error';
import { errorCodes, type ErrorCode } from '../errors/error-codes';
import type { JobKinds } from '../queues/job-kinds';
import type { QueueName } from '../queues/queue-names';

/**
 * Handles one job whose data has been parsed; its return value becomes the job's return value.
 * `token` is the worker's lock on the job, for handlers that move their job themselves.
 */
export type JobHandler<T> = (job: Job<T>, token?: string) => Promise<unknown>;

/**
 * A handler for every job kind of {@link JobKinds}, typed by its kind's data: a missing handler
 * or one expecting other data is a type error.
 */
export type JobHandlers = {
  [Q in QueueName]: {
    [K in keyof JobKinds[Q]]: JobHandler<
      JobKinds[Q][K] extends z.ZodType ? z.infer<JobKinds[Q][K]> : never
    >;
  };
};

/** For each queue a worker serves, per job kind: its data schema and its handler. */
export type JobRegistry = Partial<Record<QueueName, Record<string, RegisteredJob | undefined>>>;

/** One (queue, kind) entry: parses the job's data, then hands the job to its handler. */
export interface RegisteredJob {
  run: (job: Job, token?: string) => Promise<unknown>;
}

/**
 * Pairs every kind's schema with its handler. The data is parsed when the job starts: data
 * that does not parse fails the job for good (a retry cannot fix it) with `invalid_job_data`,
 * or the code a custom check names in its `params.code`, and says what is wrong.
 */
export function buildJobRegistry(kinds: JobKinds, handlers: JobHandlers): JobRegistry {
  const registry: JobRegistry = {};
  for (const queue of Object.keys(kinds) as QueueName[]) {
    const schemas: Record<string, z.ZodType> = kinds[queue];
    // Each handler's data type was checked against its kind's schema above (JobHandlers); here
    // they are only looked up by kind.
    const queueHandlers: Partial<Record<string, (job: Job, token?: string) => Promise<unknown>>> =
      handlers[queue];
    // A kind without a handler gets no entry, for assertRegistryComplete to report.
    registry[queue] = Object.fromEntries(
      Object.entries(schemas).flatMap(([kind, schema]) => {
        const handler = queueHandlers[kind];
        return handler ? [[kind, parsingJob(schema, handler)]] : [];
      }),
    );
  }
  return registry;
}

/** Every declared (queue, kind) of `kinds`, for {@link assertRegistryComplete}. */
export function declaredKinds(kinds: JobKinds): Record<QueueName, string[]> {
  return Object.fromEntries(
    Object.entries(kinds).map(([queue, schemas]) => [queue, Object.keys(schemas)]),
  ) as Record<QueueName, string[]>;
}

function parsingJob(
  schema: z.ZodType,
  handler: (job: Job, token?: string) => Promise<unknown>,
): RegisteredJob {
  return {
    run: async (job, token) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw invalidData(job, parsed.error);
      // The handler sees the parsed data (unknown fields dropped), never the raw payload.
      return handler(Object.assign(job, { data: parsed.data }), token);
    },
  };
}

const isErrorCode = (code: unknown): code is ErrorCode =>
  typeof code === 'string' && code in errorCodes;

/** The error of data that does not parse: a check's own code and message, or every issue. */
function invalidData(job: Job, error: z.ZodError): AppError {
  for (const issue of error.issues) {
    const code: unknown = issue.code === 'custom' ? issue.params?.code : undefined;
    if (isErrorCode(code)) return new AppError(code, issue.message);
  }
  const issues = error.issues
    .map((issue) => `${issue.path.join('.') || 'data'}: ${issue.message}`)
    .join('; ');
  return new AppError('invalid_job_data', `Job "${job.name}" has invalid data: ${issues}`);
}

/**
 * Refuses a registry in which any declared job has no handler, so a worker never starts that
 * would leave jobs of a known name waiting forever.
 */
export function assertRegistryComplete(
  registry: Partial<Record<QueueName, Record<string, unknown>>>,
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

/** Finds the entry for `job`'s kind, or fails it for good: a job nobody handles never heals. */
export function jobFor(
  registry: JobRegistry,
  queue: QueueName,
  job: Job,
  kind: string,
): RegisteredJob {
  const entry = registry[queue]?.[kind];
  if (!entry) {
    throw new AppError(
      'no_job_handler',
      `No handler for job "${job.name}" (${kind}) on queue "${queue}"`,
    );
  }
  return entry;
}
