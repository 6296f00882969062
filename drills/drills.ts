import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { queueNames } from '../src/queues/queue-names';
import { killService } from '../test/support/e2e-fixtures';
import { createPrivateRedis, type PrivateRedis } from '../test/support/private-redis';
import { startTcpProxy } from '../test/support/tcp-proxy';
import {
  drillEnv,
  drillOperator,
  seedDrillStore,
  startDrillProcesses,
  submitAll,
  verifyStore,
  waitForRuns,
  type DrillProcesses,
  type DrillStore,
  type Submission,
  type Verdict,
} from './drill-harness';
import { startPrivateStore } from './private-store';

/** One drill's line of the report. */
export interface DrillReport extends Verdict {
  drill: string;
  runs: number;
  faults: number;
  serverErrors: number;
  unavailable: number;
  seconds: number;
}

/** What every drill gets: the size and the store to seed. */
export interface DrillContext {
  runs: number;
  mongoUrl: string;
  log: (line: string) => void;
  /** Where to write every process's whole output, for a post-mortem. */
  outputDir?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number): number => low + Math.random() * (high - low);

/**
 * Submits every user's deactivation while `faults` run one after the other: the k-th once
 * k/(n+1) of the submissions are in (or when they are all in), each after the one before has
 * recovered. Resolves when both the submissions and the faults are done.
 */
async function submitDuringFaults(
  processes: DrillProcesses,
  store: DrillStore,
  faults: (() => Promise<void>)[],
): Promise<Submission> {
  const total = store.users.length;
  let done = 0;
  const script = (async () => {
    for (const [index, fault] of faults.entries()) {
      const threshold = Math.max(1, Math.floor(((index + 1) * total) / (faults.length + 1)));
      while (done < threshold) await sleep(50);
      await fault();
    }
  })();
  const submission = await submitAll(processes.api.baseUrl, store, store.users, {
    onProgress: (count) => {
      done = count;
    },
  });
  done = total;
  await script;
  return submission;
}

/** Generous: the faults slow everything down, and CI machines are small. */
const completionTimeout = (runs: number): number => 120_000 + runs * 400;

/** Runs `body` with a fresh private Redis, store and processes, then checks the store. */
async function drill(
  name: string,
  context: DrillContext,
  setup: { workers: number; brokenEvery?: number; redisArgs?: string[]; mongoUrl?: string },
  body: (parts: {
    redis: PrivateRedis;
    store: DrillStore;
    processes: DrillProcesses;
    env: Record<string, string>;
  }) => Promise<{ submission: Submission; faults: number }>,
  environment?: (env: Record<string, string>) => Promise<{
    apiEnv: Record<string, string>;
    workerEnv: Record<string, string>;
    close: () => Promise<void>;
  }>,
): Promise<DrillReport> {
  const started = Date.now();
  const redisDir = mkdtempSync(path.join(tmpdir(), 'drill-redis-'));
  const redis = await createPrivateRedis([
    '--dir',
    redisDir,
    '--dbfilename',
    'drill.rdb',
    ...(setup.redisArgs ?? []),
  ]);
  await redis.start();
  const mongoUrl = setup.mongoUrl ?? context.mongoUrl;
  const store = await seedDrillStore(mongoUrl, context.runs, {
    ...(setup.brokenEvery === undefined ? {} : { brokenEvery: setup.brokenEvery }),
  });
  const env = drillEnv(mongoUrl, store.dbName, redis.url);
  const wiring = environment
    ? await environment(env)
    : { apiEnv: env, workerEnv: env, close: () => Promise.resolve() };
  const processes = await startDrillProcesses(wiring.apiEnv, wiring.workerEnv, setup.workers);
  try {
    const { submission, faults } = await body({ redis, store, processes, env });
    await waitForRuns(store, submission.runIds.size, completionTimeout(context.runs));
    const verdict = await verifyStore(store, submission);
    if (verdict.problems.length > 0) {
      context.log(`${name}: ${verdict.problems.join('\n  ')}`);
      for (const service of [processes.api, ...processes.workers.slice(-2)]) {
        context.log(`--- ${name}: process output (tail) ---\n${service.output().slice(-3_000)}`);
      }
    }
    for (const sample of submission.errorSamples) context.log(`${name}: API answered ${sample}`);
    if (submission.serverErrors > 0) {
      const failures = processes.api
        .output()
        .split('\n')
        .filter((line) => line.includes('"request failed"'))
        .slice(0, 3);
      for (const line of failures) context.log(`${name}: API logged ${line.slice(0, 1_500)}`);
    }
    return {
      drill: name,
      runs: context.runs,
      faults,
      serverErrors: submission.serverErrors,
      unavailable: submission.unavailable,
      seconds: Math.round((Date.now() - started) / 1000),
      ...verdict,
    };
  } finally {
    if (context.outputDir !== undefined) {
      mkdirSync(context.outputDir, { recursive: true });
      for (const [index, service] of [processes.api, ...processes.workers].entries()) {
        const file = `${name.replace(/\W+/g, '-')}-${index === 0 ? 'api' : `worker-${index}`}.log`;
        writeFileSync(path.join(context.outputDir, file), service.output());
      }
    }
    await processes.close();
    await wiring.close();
    await redis.kill().catch(() => undefined);
    rmSync(redisDir, { recursive: true, force: true });
    await store.close().catch(() => undefined);
  }
}

/** 1. Worker processes SIGKILLed at random moments and restarted. */
export function workerKillStorm(context: DrillContext): Promise<DrillReport> {
  return drill('worker SIGKILL storm', context, { workers: 2 }, async ({ store, processes }) => {
    let kills = 0;
    let submitted = false as boolean;
    const storm = (async () => {
      // At least 10 kills, and on until every run is in.
      while (kills < 10 || !submitted) {
        await sleep(between(800, 2_500));
        const alive = processes.workers.filter(
          (worker) => worker.child.exitCode === null && worker.child.signalCode === null,
        );
        const victim = alive[Math.floor(Math.random() * alive.length)];
        if (!victim) continue;
        await killService(victim); // the supervisor starts a replacement
        kills += 1;
      }
    })();
    const submission = await submitAll(processes.api.baseUrl, store, store.users);
    submitted = true;
    await storm;
    return { submission, faults: kills };
  });
}

/** 2. The real redis-server restarted mid-batch: once keeping its data, once wiped. */
export function redisRestart(context: DrillContext): Promise<DrillReport> {
  return drill('Redis restart', context, { workers: 2 }, async ({ redis, store, processes }) => {
    let faults = 0;
    const restart = async (wipe: boolean): Promise<void> => {
      if (wipe) await redis.kill();
      else await redis.shutdown();
      faults += 1;
      await sleep(2_000);
      await redis.start();
    };
    const submission = await submitDuringFaults(processes, store, [
      () => restart(false),
      () => restart(true),
    ]);
    return { submission, faults };
  });
}

/** 3. The store stopped mid-batch and started again: FerretDB once, PostgreSQL under it once. */
export async function storeOutage(context: DrillContext): Promise<DrillReport> {
  const privateStore = await startPrivateStore();
  try {
    return await drill(
      'store outage',
      context,
      { workers: 2, mongoUrl: privateStore.mongoUrl },
      async ({ store, processes }) => {
        let faults = 0;
        const outage = async (what: 'ferretdb' | 'postgresql'): Promise<void> => {
          if (what === 'ferretdb') await privateStore.stopFerretDb();
          else await privateStore.stopPostgres();
          faults += 1;
          await sleep(3_000);
          if (what === 'ferretdb') await privateStore.startFerretDb();
          else await privateStore.startPostgres();
        };
        const submission = await submitDuringFaults(processes, store, [
          () => outage('ferretdb'),
          () => outage('postgresql'),
        ]);
        return { submission, faults };
      },
    );
  } finally {
    await privateStore.close();
  }
}

/** 4. A proxy between the service and Redis and the store: latency, cuts, refusals. */
export function flakyNetwork(context: DrillContext): Promise<DrillReport> {
  let faults = 0;
  let stopSchedule = false;
  let schedule: Promise<void> = Promise.resolve();
  // The faults start once the processes are up: a process that cannot reach its dependencies
  // at start-up exits, and is restarted by the supervisor, which is a different drill.
  let startWeather = (): void => undefined;
  return drill(
    'flaky network',
    context,
    { workers: 2 },
    async ({ store, processes }) => {
      startWeather();
      const submission = await submitAll(processes.api.baseUrl, store, store.users);
      // Keep the weather bad until the runs are done, then clear it.
      await waitForRuns(store, submission.runIds.size, completionTimeout(context.runs));
      stopSchedule = true;
      await schedule;
      return { submission, faults };
    },
    async (env) => {
      const redisUrl = new URL(env.REDIS_URL ?? '');
      const mongoUrl = new URL(env.MONGO_URL ?? '');
      const latency = (): number => between(1, 15);
      const proxyOptions = { latencyMs: latency };
      const redisProxy = await startTcpProxy(
        redisUrl.hostname,
        Number(redisUrl.port),
        proxyOptions,
      );
      const mongoProxy = await startTcpProxy(
        mongoUrl.hostname,
        Number(mongoUrl.port || 27017),
        proxyOptions,
      );
      const proxied = { ...env };
      proxied.REDIS_URL = `redis://127.0.0.1:${redisProxy.port}`;
      const viaProxy = new URL(mongoUrl);
      viaProxy.port = String(mongoProxy.port);
      viaProxy.searchParams.set('directConnection', 'true');
      proxied.MONGO_URL = viaProxy.toString();
      startWeather = () => {
        schedule = weather();
      };
      const weather = async (): Promise<void> => {
        await sleep(1_000);
        while (!stopSchedule) {
          const target = faults % 2 === 0 ? redisProxy : mongoProxy;
          await target.cut();
          faults += 1;
          await sleep(between(300, 1_500));
          await target.restore();
          await sleep(between(3_000, 6_000));
        }
      };
      return {
        apiEnv: proxied,
        workerEnv: proxied,
        close: async () => {
          stopSchedule = true;
          await schedule;
          await redisProxy.close();
          await mongoProxy.close();
        },
      };
    },
  );
}

/** 5. Redis at a tiny maxmemory with noeviction; memory freed afterwards. */
export function redisFull(context: DrillContext): Promise<DrillReport> {
  return drill('Redis full', context, { workers: 2 }, async ({ redis, store, processes }) => {
    const admin = new Redis(redis.url);
    try {
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
      // Room for a handful of flows, then OOM.
      await admin.config('SET', 'maxmemory', String(used + 150_000));
      let freed = false as boolean;
      const half = Math.max(1, Math.floor(context.runs / 2));
      const submission = await submitAll(processes.api.baseUrl, store, store.users, {
        onProgress: (done) => {
          if (!freed && done >= half) {
            freed = true;
            void admin.config('SET', 'maxmemory', '0');
          }
        },
      });
      if (!freed) await admin.config('SET', 'maxmemory', '0');
      return { submission, faults: submission.unavailable > 0 ? 1 : 0 };
    } finally {
      admin.disconnect();
    }
  });
}

/**
 * 6. Operators retrying step jobs during and after a batch: failed ones through the dashboard
 * (after fixing the data), completed ones forced through BullMQ's `job.retry()`.
 */
export function operatorRetries(context: DrillContext): Promise<DrillReport> {
  return drill(
    'operator retries',
    context,
    { workers: 2, brokenEvery: 7 },
    async ({ redis, store, processes, env }) => {
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      const steps = new Queue(queueNames.steps, { connection, prefix: env.QUEUE_PREFIX ?? '' });
      const runsQueue = new Queue(queueNames.runs, { connection, prefix: env.QUEUE_PREFIX ?? '' });
      const auth = `Basic ${Buffer.from(`${drillOperator.username}:${drillOperator.password}`).toString('base64')}`;
      let retries = 0;
      const dashboardRetryAll = async (): Promise<void> => {
        const response = await fetch(
          `${processes.api.baseUrl}/admin/queues/api/queues/${queueNames.steps}/retry/failed`,
          { method: 'PUT', headers: { Authorization: auth, 'Sec-Fetch-Site': 'same-origin' } },
        );
        if (response.ok) retries += ((await response.json()) as { retried: number }).retried;
      };
      const fixBrokenUsers = async (): Promise<void> => {
        for (const user of store.users) {
          await store.models.users.updateOne(
            { _id: user.userId, email: null },
            { $set: { email: user.email } },
          );
        }
      };
      const forceCompleted = async (count: number): Promise<void> => {
        for (const queue of [steps, runsQueue]) {
          const jobs = await queue.getJobs(['completed'], 0, count - 1);
          for (const job of jobs) {
            await job.retry('completed').catch(() => undefined);
            retries += 1;
          }
        }
      };
      let batchDone = false as boolean;
      const during = (async () => {
        while (!batchDone) {
          await sleep(1_500);
          await forceCompleted(3);
          await dashboardRetryAll(); // before the fix: the broken ones fail again
        }
      })();
      const submission = await submitAll(processes.api.baseUrl, store, store.users);
      batchDone = true;
      await during;
      // After the batch: fix the data, retry every failed step from the dashboard, and force
      // every completed job once more.
      await sleep(3_000);
      await fixBrokenUsers();
      await dashboardRetryAll();
      await waitForRuns(store, submission.runIds.size, completionTimeout(context.runs));
      const completedSteps = await steps.getJobs(['completed']);
      for (const job of completedSteps) {
        await job.retry('completed').catch(() => undefined);
        retries += 1;
      }
      await sleep(5_000);
      await Promise.all([steps.close(), runsQueue.close()]);
      connection.disconnect();
      return { submission, faults: retries };
    },
  );
}
