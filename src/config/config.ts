import { z } from 'zod';
import { AppError } from '../errors/app-error';
import { parseAddressRange, type AddressRange } from '../webhooks/address-range';

/** The retry delays of a webhook delivery: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
const defaultRetrySchedule = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
import { hashTagOf, parseRedisTarget, type RedisTarget } from './redis-target';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The admin console's session lifetimes when the environment does not set them. */
export const consoleDefaults = { sessionIdleMinutes: 8 * 60, sessionMaxHours: 12 } as const;

const configSchema = z
  .object({
    MONGO_URL: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// URL')
      .default('mongodb://127.0.0.1:27017/offboard'),
    REDIS_URL: z
      .string()
      .refine(
        (url) => parseRedisTarget(url) !== null,
        'must be a redis:// or rediss:// URL, or redis+cluster://host1:port1,host2:port2',
      )
      .default('redis://127.0.0.1:6379'),
    MONGO_MAX_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    DASHBOARD_USERNAME: z.string().min(1).optional(),
    DASHBOARD_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
    QUEUE_PREFIX: z
      .string()
      .regex(
        /^[A-Za-z0-9_-]*(\{[A-Za-z0-9_-]+\})?[A-Za-z0-9_-]*$/,
        'letters, digits, _ and -, with at most one {hash tag}',
      )
      .refine((prefix) => prefix.length > 0, 'must not be empty')
      // A Redis Cluster hashes only the tag: every queue of a flow then shares one slot.
      .default('{offboard}'),
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
    AUTH_FAILURE_LIMIT: z.coerce.number().int().min(1).max(10_000).default(10),
    AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    MAX_PENDING_BULKS_PER_ORG: z.coerce.number().int().min(1).max(1_000).default(5),
    API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(60).default(5),
    TRUST_PROXY: z
      .string()
      .regex(
        /^(\d{1,2}|[A-Za-z0-9.:/]+(,[A-Za-z0-9.:/]+)*)$/,
        'a number of proxy hops, or comma-separated proxy addresses, CIDR ranges or express names (loopback, uniquelocal)',
      )
      .optional(),
    SECRETS_KEY: z
      .string()
      .refine(
        (value) =>
          /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32,
        'must be the base64 of 32 random bytes (openssl rand -base64 32)',
      )
      .optional(),
    WEBHOOK_ALLOWED_ADDRESSES: z
      .string()
      .refine(
        (value) => value.split(',').every((entry) => parseAddressRange(entry.trim()) !== null),
        'comma-separated IP addresses or CIDR ranges (127.0.0.1/32, 10.0.0.0/8, ::1/128)',
      )
      .optional(),
    WEBHOOK_RETRY_SCHEDULE_MS: z
      .string()
      .regex(/^\d+(,\d+)*$/, 'comma-separated delays in milliseconds')
      .default(defaultRetrySchedule.join(',')),
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
    WEBHOOK_RELAY_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    CONSOLE_SESSION_IDLE_MINUTES: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .default(consoleDefaults.sessionIdleMinutes),
    CONSOLE_SESSION_MAX_HOURS: z.coerce
      .number()
      .int()
      .min(1)
      .max(30 * 24)
      .default(consoleDefaults.sessionMaxHours),
    SEED_DEMO_ON_EMPTY: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
  })
  .refine((env) => env.CONSOLE_SESSION_IDLE_MINUTES <= env.CONSOLE_SESSION_MAX_HOURS * 60, {
    message: 'CONSOLE_SESSION_IDLE_MINUTES must not exceed CONSOLE_SESSION_MAX_HOURS',
    path: ['CONSOLE_SESSION_IDLE_MINUTES'],
  })
  .refine(
    (env) => parseRedisTarget(env.REDIS_URL)?.mode !== 'cluster' || hashTagOf(env.QUEUE_PREFIX),
    {
      message:
        'on a Redis Cluster (redis+cluster://) QUEUE_PREFIX needs a {hash tag}, e.g. {offboard}: a flow spans several queues, and without a tag their keys land in different slots (CROSSSLOT)',
      path: ['QUEUE_PREFIX'],
    },
  )
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
  /** `REDIS_URL` as given; {@link AppConfig.redis} is what it names. */
  redisUrl: string;
  /** One Redis server or a Redis Cluster's nodes. */
  redis: RedisTarget;
  /** Connections per process to the store. */
  mongoMaxPoolSize: number;
  port: number;
  /** Where a worker-only process serves `/metrics`; `null` for nowhere (the API serves its own). */
  metricsPort: number | null;
  logLevel: (typeof logLevels)[number];
  dashboard: { username: string; password: string } | null;
  /**
   * The base key prefix of the queues (`{offboard}`); a queue outside every flow may have a tag
   * of its own (`queuePrefixFor` in src/queues/queue-names.ts).
   */
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
  /** What the HTTP layer enforces against abuse (README, Security). */
  security: SecurityConfig;
  /** Outgoing webhooks (docs/webhooks.md). */
  webhooks: WebhookConfig;
  /** The admin console's sessions (README, Admin console). */
  console: ConsoleConfig;
}

/** How webhooks are signed, sent and retried. */
export interface WebhookConfig {
  /** AES-256-GCM key for the endpoints' secrets at rest; `null` refuses to create webhooks. */
  secretsKey: Buffer | null;
  /** Private or loopback addresses that may be called anyway (and over `http`). */
  allowedAddresses: AddressRange[];
  /** Delay before each retry; its length is the number of retries. Shortened only by tests. */
  retryScheduleMs: number[];
  /** A receiver must answer 2xx within this long. */
  timeoutMs: number;
  /** How often a worker process queues the deliveries recorded since. */
  relayIntervalMs: number;
}

/** How long an admin console session lives. */
export interface ConsoleConfig {
  /** A session unused for this long ends. */
  sessionIdleSeconds: number;
  /** A session ends this long after sign-in, however busy. */
  sessionMaxSeconds: number;
}

/** Throttling and caps of the HTTP layer. */
export interface SecurityConfig {
  /** Failed authentications one client address may make per window; then 429 until it ends. */
  authFailureLimit: number;
  authFailureWindowSeconds: number;
  /** Bulk deactivations of one organization that may be pending or running at once. */
  maxPendingBulksPerOrg: number;
  /**
   * How long an API process trusts an active key it looked up (0: not at all). A key revoked
   * elsewhere (`keys revoke`) is refused within this bound; see README, Security.
   */
  apiKeyCacheSeconds: number;
  /**
   * Express's `trust proxy`: which hops' `X-Forwarded-For` names the client, so throttling counts
   * per client rather than per load balancer. `false` trusts none.
   */
  trustProxy: false | number | string[];
}

function parseTrustProxy(value: string | undefined): SecurityConfig['trustProxy'] {
  if (value === undefined) return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',');
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
  const redis = parseRedisTarget(value.REDIS_URL);
  if (redis === null) throw new AppError('config_invalid', 'REDIS_URL: not a Redis URL');
  return {
    mongoUrl: value.MONGO_URL,
    redisUrl: value.REDIS_URL,
    redis,
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
    security: {
      authFailureLimit: value.AUTH_FAILURE_LIMIT,
      authFailureWindowSeconds: value.AUTH_FAILURE_WINDOW_SECONDS,
      maxPendingBulksPerOrg: value.MAX_PENDING_BULKS_PER_ORG,
      apiKeyCacheSeconds: value.API_KEY_CACHE_SECONDS,
      trustProxy: parseTrustProxy(value.TRUST_PROXY),
    },
    webhooks: {
      secretsKey: value.SECRETS_KEY === undefined ? null : Buffer.from(value.SECRETS_KEY, 'base64'),
      allowedAddresses: (value.WEBHOOK_ALLOWED_ADDRESSES?.split(',') ?? []).flatMap((entry) => {
        const range = parseAddressRange(entry.trim());
        return range === null ? [] : [range];
      }),
      retryScheduleMs: value.WEBHOOK_RETRY_SCHEDULE_MS.split(',').map(Number),
      timeoutMs: value.WEBHOOK_TIMEOUT_MS,
      relayIntervalMs: value.WEBHOOK_RELAY_INTERVAL_MS,
    },
    console: {
      sessionIdleSeconds: value.CONSOLE_SESSION_IDLE_MINUTES * 60,
      sessionMaxSeconds: value.CONSOLE_SESSION_MAX_HOURS * 3600,
    },
  };
}
