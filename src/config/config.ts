import { z } from 'zod';
import { AppError } from '../errors/app-error';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const configSchema = z
  .object({
    MONGO_URL: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// URL')
      .default('mongodb://127.0.0.1:27017/offboard'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    MONGO_MAX_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    DASHBOARD_USERNAME: z.string().min(1).optional(),
    DASHBOARD_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
      .default('offboard'),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
    WORKER_QUEUES: z
      .string()
      .regex(/^[a-z-]+(,[a-z-]+)*$/, 'a comma-separated list of queue names')
      .optional(),
    WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1_000).default(30_000),
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(30_000),
    RECONCILE_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
    SCHEDULER_CHECK_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(25_000),
    SEED_DEMO_ON_EMPTY: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
  })
  .refine(
    (env) => (env.DASHBOARD_USERNAME === undefined) === (env.DASHBOARD_PASSWORD === undefined),
    {
      message: 'DASHBOARD_USERNAME and DASHBOARD_PASSWORD go together: set both or neither',
      path: ['DASHBOARD_PASSWORD'],
    },
  );

/** Everything the processes are configured with, parsed once at start-up. */
export interface AppConfig {
  mongoUrl: string;
  redisUrl: string;
  /** Connections per process to the store. */
  mongoMaxPoolSize: number;
  port: number;
  /** Where a worker-only process serves `/metrics`; `null` for nowhere (the API serves its own). */
  metricsPort: number | null;
  logLevel: (typeof logLevels)[number];
  dashboard: { username: string; password: string } | null;
  queuePrefix: string;
  workerConcurrency: number;
  /** The queues this process's workers serve; `null` for all. */
  workerQueues: string[] | null;
  /** A job whose worker stops renewing its lock for this long is taken as stalled and retried. */
  workerLockDurationMs: number;
  reconcileIntervalMs: number;
  /** Runs younger than this are left to the request that is still enqueueing them. */
  reconcileGraceMs: number;
  /**
   * How often each worker process checks that the job schedulers (reconciler, sweeps) are still
   * in Redis, re-creating them after Redis lost its data without a reconnect.
   */
  schedulerCheckIntervalMs: number;
  shutdownTimeoutMs: number;
  seedDemoOnEmpty: boolean;
}

/**
 * Parses the environment into an {@link AppConfig}. The only place that interprets environment
 * variables; entry points call it with `process.env` and pass the result down.
 *
 * @throws AppError `config_invalid` listing every bad variable.
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const blankAsUnset = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = configSchema.safeParse(blankAsUnset);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`,
    );
    throw new AppError('config_invalid', `Invalid configuration: ${problems.join('; ')}`, {
      details: problems,
    });
  }
  const value = parsed.data;
  return {
    mongoUrl: value.MONGO_URL,
    redisUrl: value.REDIS_URL,
    mongoMaxPoolSize: value.MONGO_MAX_POOL_SIZE,
    port: value.PORT,
    metricsPort: value.METRICS_PORT ?? null,
    logLevel: value.LOG_LEVEL,
    dashboard:
      value.DASHBOARD_USERNAME !== undefined && value.DASHBOARD_PASSWORD !== undefined
        ? { username: value.DASHBOARD_USERNAME, password: value.DASHBOARD_PASSWORD }
        : null,
    queuePrefix: value.QUEUE_PREFIX,
    workerConcurrency: value.WORKER_CONCURRENCY,
    workerQueues: value.WORKER_QUEUES?.split(',') ?? null,
    workerLockDurationMs: value.WORKER_LOCK_DURATION_MS,
    reconcileIntervalMs: value.RECONCILE_INTERVAL_MS,
    reconcileGraceMs: value.RECONCILE_GRACE_MS,
    schedulerCheckIntervalMs: value.SCHEDULER_CHECK_INTERVAL_MS,
    shutdownTimeoutMs: value.SHUTDOWN_TIMEOUT_MS,
    seedDemoOnEmpty: value.SEED_DEMO_ON_EMPTY,
  };
}
