import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { queueNames } from '../src/queues/queue-names';
import { killService } from '../test-kit/service-process';
import { createPrivateRedis, type PrivateRedis } from '../test-kit/private-redis';
import { startTcpProxy } from '../test-kit/tcp-proxy';
import { newSubmission, submitAll, type Submission } from './drill-client';
import {
  drillEnv,
  drillOperator,
  startDrillProcesses,
  type DrillProcesses,
} from './drill-processes';
import { seedDrillStore, type DrillStore } from './drill-store';
import { runsInFlight, verifyStore, waitForRuns, type Verdict } from './drill-verdict';
import { watchEffects } from './effect-watch';
import { startPrivateStore } from './private-store';

/** One drill's line of the report. */
export interface DrillReport extends Verdict {
  drill: string;
  runs: number;
  /** Faults that landed while runs were in flight (accepted, not finished). */
  faults: number;
  /** Every fault injected, including those that found no run in flight. */
  injected: number;
  /** Why the drill failed beyond lost or duplicated runs (e.g. no fault hit a run in flight). */
  failures: string[];
  /** Effects recorded while their runs were in flight, not by the final look. */
  effectsWatched: number;
  /** Runs in flight at each fault (the first 50). */
  inFlightAtFaults: number[];
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

/** A drill's faults: how many were injected and how many found runs in flight. */
export class FaultTally {
  injected = 0;
  hit = 0;
  /** Runs in flight at each fault (the first 50). */
  readonly inFlight: number[] = [];

  constructor(private readonly store: DrillStore) {}

  /** Injects one fault, counting it as a hit when runs were in flight just before. */
  async strike(inject: () => Promise<void>): Promise<void> {
    const inFlight = await runsInFlight(this.store);
    await inject();
    this.record(inFlight);
  }

  /** Counts a fault that happened with `inFlight` runs in flight. */
  record(inFlight: number, count = 1): void {
    if (this.inFlight.length < 50) this.inFlight.push(inFlight);
    this.injected += count;
    if (inFlight > 0) this.hit += count;
  }
}
const between = (low: number, high: number): number => low + Math.random() * (high - low);

/**
 * Submits every user's deactivation while `faults` run one after the other: the k-th once
 * k/(n+1) of the submissions are in and a run is in flight (or when they are all in), each
 * after the one before has recovered. Resolves when both the submissions and the faults are
 * done.
 */
async function submitDuringFaults(
  processes: DrillProcesses,
  store: DrillStore,
  submission: Submission,
  faults: (() => Promise<void>)[],
): Promise<void> {
  const total = store.users.length;
  let done = 0;
  const script = (async () => {
    for (const [index, fault] of faults.entries()) {
      const threshold = Math.max(1, Math.floor(((index + 1) * total) / (faults.length + 1)));
      while (done < threshold) await sleep(50);
      // Never into an idle service: the next run accepted is in flight.
      while (done < total && (await runsInFlight(store)) === 0) await sleep(20);
      await fault();
    }
  })();
  await submitAll(processes.api.baseUrl, store, store.users, {
    submission,
    onProgress: (count) => {
      done = count;
    },
  });
  done = total;
  await script;
}

/** Generous: the faults slow everything down, and CI machines are small. */
const completionTimeout = (runs: number): number => 120_000 + runs * 400;

/** What a drill's body gets. */
interface DrillParts {
  redis: PrivateRedis;
  /** Where the private Redis writes its RDB. */
  rdbPath: string;
  store: DrillStore;
  processes: DrillProcesses;
  env: Record<string, string>;
  /** Filled by `submitAll` as the answers come. */
  submission: Submission;
  faults: FaultTally;
}

/**
 * Runs `body` with a fresh private Redis, store and processes, then checks the store. While it
 * runs, every step's effects are recorded the moment the step first completes; the check
 * requires them unchanged at the end. The body returns drill-specific failures.
 */
async function drill(
  name: string,
  context: DrillContext,
  setup: { workers: number; brokenEvery?: number; redisArgs?: string[]; mongoUrl?: string },
  body: (parts: DrillParts) => Promise<string[]>,
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
  const submission = newSubmission();
  const faults = new FaultTally(store);
  const watch = watchEffects(store, () => submission.runIds.values());
  try {
    const failures = await body({
      redis,
      rdbPath: path.join(redisDir, 'drill.rdb'),
      store,
      processes,
      env,
      submission,
      faults,
    });
    await waitForRuns(store, submission.runIds.size, completionTimeout(context.runs));
    await watch.finish();
    const verdict = await verifyStore(store, submission, watch.snapshots());
    if (faults.hit === 0) {
      failures.push(`no fault hit a run in flight (${faults.injected} injected)`);
    }
    for (const failure of failures) context.log(`${name}: ${failure}`);
    if (verdict.problems.length > 0) {
      context.log(`${name}: ${verdict.problems.join('\n  ')}`);
      for (const service of [processes.api, ...processes.workers.slice(-2)]) {
        context.log(`--- ${name}: process output (tail) ---\n${service.output().slice(-3_000)}`);
      }
    }
    for (const sample of submission.errorSamples) context.log(`${name}: API answered ${sample}`);
    if (submission.serverErrors > 0) {
      const errors = processes.api
        .output()
        .split('\n')
        .filter((line) => line.includes('"request failed"'))
        .slice(0, 3);
      for (const line of errors) context.log(`${name}: API logged ${line.slice(0, 1_500)}`);
    }
    return {
      drill: name,
      runs: context.runs,
      faults: faults.hit,
      injected: faults.injected,
      failures,
      effectsWatched: watch.takenInFlight(),
      inFlightAtFaults: faults.inFlight,
      serverErrors: submission.serverErrors,
      unavailable: submission.unavailable,
      seconds: Math.round((Date.now() - started) / 1000),
      ...verdict,
    };
  } finally {
    await watch.finish().catch(() => undefined);
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
  return drill(
    'worker SIGKILL storm',
    context,
    { workers: 2 },
    async ({ store, processes, submission, faults }) => {
      let submitted = false as boolean;
      const storm = (async () => {
        // Until every run is in, and on to 10 kills while runs are still in flight.
        while (!submitted || (faults.injected < 10 && (await runsInFlight(store)) > 0)) {
          // The first kill as soon as runs are in flight, then every 0.8–2.5 s. A small drill's
          // runs all finish within a second or so: the first kill cannot wait longer.
          if (faults.injected === 0) {
            while (!submitted && (await runsInFlight(store)) === 0) await sleep(20);
            await sleep(between(0, 150));
          } else {
            await sleep(between(800, 2_500));
            // Once every run is in and done, a kill would hit nothing.
            if (submitted && (await runsInFlight(store)) === 0) break;
          }
          const alive = processes.workers.filter(
            (worker) => worker.child.exitCode === null && worker.child.signalCode === null,
          );
          const victim = alive[Math.floor(Math.random() * alive.length)];
          // The supervisor starts a replacement.
          if (victim) await faults.strike(() => killService(victim));
        }
      })();
      await submitAll(processes.api.baseUrl, store, store.users, { submission });
      submitted = true;
      await storm;
      return [];
    },
  );
}

/** Reads one `INFO` field of a Redis section as a number. */
async function infoNumber(client: Redis, section: string, field: string): Promise<number> {
  const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(await client.info(section));
  return Number(match?.[1] ?? Number.NaN);
}

/**
 * 2. The real redis-server restarted mid-batch: once keeping its data (`SHUTDOWN SAVE`, the RDB
 * reloaded), once wiped (SIGKILL and its RDB deleted, so it starts empty).
 */
export function redisRestart(context: DrillContext): Promise<DrillReport> {
  return drill(
    'Redis restart',
    context,
    { workers: 2 },
    async ({ redis, rdbPath, store, processes, submission, faults }) => {
      const failures: string[] = [];
      const marker = 'drill:before-restart';
      const restart = async (wipe: boolean): Promise<void> => {
        await faults.strike(async () => {
          const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
          try {
            await admin.set(marker, '1');
          } finally {
            admin.disconnect();
          }
          if (wipe) {
            await redis.kill();
            rmSync(rdbPath, { force: true });
          } else {
            await redis.shutdown();
          }
        });
        await sleep(2_000);
        await redis.start();
        // What the restarted server loaded from disk (exact), and whether a key written just
        // before the fault survived. DBSIZE alone is not a proof: the processes reconnect
        // within milliseconds and write again.
        const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
        try {
          const [keys, loaded, kept] = await Promise.all([
            probe.dbsize(),
            infoNumber(probe, 'persistence', 'rdb_last_load_keys_loaded'),
            probe.exists(marker),
          ]);
          context.log(
            `Redis restart (${wipe ? 'wiped' : 'kept'}): ${loaded} keys loaded, DBSIZE ${keys} at once`,
          );
          if (wipe && (loaded !== 0 || kept !== 0)) {
            failures.push(`the wiped Redis was not empty: ${loaded} keys loaded from disk`);
          }
          if (!wipe && (!(loaded > 0) || kept !== 1)) {
            failures.push('the restarted Redis did not keep its data');
          }
        } finally {
          probe.disconnect();
        }
      };
      await submitDuringFaults(processes, store, submission, [
        () => restart(false),
        () => restart(true),
      ]);
      return failures;
    },
  );
}

/**
 * 3. Redis loses every key without restarting (`FLUSHALL`, as a failover to an empty replica
 * does), twice mid-batch: no reconnect tells the processes; the workers' periodic scheduler
 * check brings the reconciler back, and it re-queues the lost runs.
 */
export function redisFlush(context: DrillContext): Promise<DrillReport> {
  return drill(
    'Redis FLUSHALL',
    context,
    { workers: 2 },
    async ({ redis, store, processes, env, submission, faults }) => {
      const failures: string[] = [];
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      const maintenance = new Queue(queueNames.maintenance, {
        connection,
        prefix: env.QUEUE_PREFIX ?? '',
      });
      try {
        const flush = async (): Promise<void> => {
          await faults.strike(async () => {
            await connection.flushall();
          });
          // Recovered once a worker has put the reconciler back.
          const deadline = Date.now() + 60_000;
          while ((await maintenance.getJobScheduler('reconcile-runs')) === undefined) {
            if (Date.now() > deadline) {
              failures.push('the reconciler was not re-created within 60 s of FLUSHALL');
              return;
            }
            await sleep(200);
          }
        };
        await submitDuringFaults(processes, store, submission, [flush, flush]);
      } finally {
        await maintenance.close();
        connection.disconnect();
      }
      return failures;
    },
  );
}

/** 4. The store stopped mid-batch and started again: FerretDB once, PostgreSQL under it once. */
export async function storeOutage(context: DrillContext): Promise<DrillReport> {
  const privateStore = await startPrivateStore();
  try {
    return await drill(
      'store outage',
      context,
      { workers: 2, mongoUrl: privateStore.mongoUrl },
      async ({ store, processes, submission, faults }) => {
        const outage = async (what: 'ferretdb' | 'postgresql'): Promise<void> => {
          await faults.strike(() =>
            what === 'ferretdb' ? privateStore.stopFerretDb() : privateStore.stopPostgres(),
          );
          await sleep(3_000);
          if (what === 'ferretdb') await privateStore.startFerretDb();
          else await privateStore.startPostgres();
        };
        await submitDuringFaults(processes, store, submission, [
          () => outage('ferretdb'),
          () => outage('postgresql'),
        ]);
        return [];
      },
    );
  } finally {
    await privateStore.close();
  }
}

/** 5. A proxy between the service and Redis and the store: latency, cuts, refusals. */
export function flakyNetwork(context: DrillContext): Promise<DrillReport> {
  let stopSchedule = false;
  let schedule: Promise<void> = Promise.resolve();
  // The faults start once the processes are up: a process that cannot reach its dependencies
  // at start-up exits, and is restarted by the supervisor, which is a different drill.
  let startWeather = (_store: DrillStore, _faults: FaultTally): void => undefined;
  return drill(
    'flaky network',
    context,
    { workers: 2 },
    async ({ store, processes, submission, faults }) => {
      startWeather(store, faults);
      await submitAll(processes.api.baseUrl, store, store.users, { submission });
      // Keep the weather bad until the runs are done, then clear it.
      await waitForRuns(store, submission.runIds.size, completionTimeout(context.runs));
      stopSchedule = true;
      await schedule;
      return [];
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
      startWeather = (store, faults) => {
        schedule = weather(store, faults);
      };
      const weather = async (store: DrillStore, faults: FaultTally): Promise<void> => {
        // The first cut as soon as a run is in flight, not after a fixed wait.
        while (!stopSchedule && (await runsInFlight(store)) === 0) await sleep(50);
        while (!stopSchedule) {
          const target = faults.injected % 2 === 0 ? redisProxy : mongoProxy;
          await faults.strike(() => target.cut());
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

/**
 * 6. Redis full: once runs are in flight, `maxmemory` is set just above what Redis uses, with
 * `noeviction`; it is freed once Redis has refused writes (`errorstat_OOM`) and half the runs
 * are in.
 */
export function redisFull(context: DrillContext): Promise<DrillReport> {
  return drill(
    'Redis full',
    context,
    { workers: 2 },
    async ({ redis, store, processes, submission, faults }) => {
      const admin = new Redis(redis.url);
      try {
        let done = 0;
        let submitted = false as boolean;
        const script = (async () => {
          while (!submitted && (await runsInFlight(store)) === 0) await sleep(50);
          const used = await infoNumber(admin, 'memory', 'used_memory');
          await admin.config('SET', 'maxmemory', String(used + 20_000));
          // Full once Redis has refused a write.
          let refusals = 0;
          while (refusals === 0 && !submitted) {
            await sleep(100);
            const stats = await admin.info('errorstats');
            refusals = Number(/^errorstat_OOM:count=(\d+)/m.exec(stats)?.[1] ?? 0);
          }
          if (refusals > 0) faults.record(await runsInFlight(store));
          while (!submitted && done < Math.max(1, Math.floor(context.runs / 2))) await sleep(100);
          await admin.config('SET', 'maxmemory', '0');
        })();
        await submitAll(processes.api.baseUrl, store, store.users, {
          submission,
          onProgress: (count) => {
            done = count;
          },
        });
        submitted = true;
        await script;
        return [];
      } finally {
        admin.disconnect();
      }
    },
  );
}

/**
 * 7. Operators retrying jobs during and after a batch: every completed step and run job is
 * force-retried once with `job.retry('completed')`, picked up every second while BullMQ still
 * keeps it (it keeps the last 1,000); failed steps are retried through the dashboard's own
 * retry-all call, before and after the broken data is fixed. The drill ends once nothing is
 * waiting or active and every retried job has finished after its retry.
 */
export function operatorRetries(context: DrillContext): Promise<DrillReport> {
  return drill(
    'operator retries',
    context,
    { workers: 2, brokenEvery: 7 },
    async ({ redis, store, processes, env, submission, faults }) => {
      const failures: string[] = [];
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      const prefix = env.QUEUE_PREFIX ?? '';
      const queues = [
        new Queue(queueNames.steps, { connection, prefix }),
        new Queue(queueNames.runs, { connection, prefix }),
      ];
      const auth = `Basic ${Buffer.from(`${drillOperator.username}:${drillOperator.password}`).toString('base64')}`;
      /** When each forced retry was made, by `queue/jobId`. */
      const retriedAt = new Map<string, number>();
      const dashboardRetryAll = async (): Promise<void> => {
        const inFlight = await runsInFlight(store);
        const response = await fetch(
          `${processes.api.baseUrl}/admin/queues/api/queues/${queueNames.steps}/retry/failed`,
          { method: 'PUT', headers: { Authorization: auth, 'Sec-Fetch-Site': 'same-origin' } },
        );
        if (response.ok) {
          faults.record(inFlight, ((await response.json()) as { retried: number }).retried);
        }
      };
      const fixBrokenUsers = async (): Promise<void> => {
        for (const user of store.users) {
          await store.models.users.updateOne(
            { _id: user.userId, email: null },
            { $set: { email: user.email } },
          );
        }
      };
      const forceCompleted = async (): Promise<void> => {
        const inFlight = await runsInFlight(store);
        for (const queue of queues) {
          for (const job of await queue.getJobs(['completed'], 0, 999)) {
            const key = `${queue.name}/${job.id ?? ''}`;
            if (job.id === undefined || retriedAt.has(key)) continue;
            const at = Date.now();
            // A retry that throws (the job moved on meanwhile) did not happen: not counted.
            const took = await job.retry('completed').then(
              () => true,
              () => false,
            );
            if (took) {
              retriedAt.set(key, at);
              faults.record(inFlight);
            }
          }
        }
      };
      /** Forced retries whose job has not finished since. */
      const unfinishedRetries = async (): Promise<string[]> => {
        const pending: string[] = [];
        for (const [key, at] of retriedAt) {
          const [name, id] = key.split('/') as [string, string];
          const job = await queues.find((queue) => queue.name === name)?.getJob(id);
          // Gone: finished and trimmed (BullMQ keeps the last 1,000 completed).
          if (job && !((job.finishedOn ?? 0) >= at)) pending.push(key);
        }
        return pending;
      };
      const busy = async (): Promise<number> => {
        let total = 0;
        for (const queue of queues) {
          const counts = await queue.getJobCounts(
            'waiting',
            'active',
            'delayed',
            'prioritized',
            'waiting-children',
          );
          total += Object.values(counts).reduce((sum, count) => sum + count, 0);
        }
        return total;
      };

      try {
        let batchDone = false as boolean;
        const during = (async () => {
          // The first pass as soon as a job has completed while runs are in flight (a small
          // drill's runs finish within about a second), then every second.
          for (let tries = 0; faults.hit === 0 && tries < 100; tries += 1) {
            await sleep(50);
            await forceCompleted();
          }
          while (!batchDone) {
            await sleep(1_000);
            await forceCompleted();
            await dashboardRetryAll(); // before the fix: the broken ones fail again
          }
        })();
        await submitAll(processes.api.baseUrl, store, store.users, { submission });
        batchDone = true;
        await during;
        // After the batch: fix the data, retry every failed step from the dashboard, and keep
        // forcing every newly completed job once, until the runs are done and all is settled.
        await sleep(3_000);
        await fixBrokenUsers();
        await dashboardRetryAll();
        const deadline = Date.now() + completionTimeout(context.runs);
        let settled = false;
        while (Date.now() < deadline) {
          await sleep(1_000);
          await forceCompleted();
          const completed = await store.models.deactivations.countDocuments({
            orgId: store.orgId,
            status: 'completed',
          });
          if (completed < submission.runIds.size || (await busy()) > 0) continue;
          if ((await unfinishedRetries()).length === 0) {
            settled = true;
            break;
          }
        }
        if (!settled) {
          const left = await unfinishedRetries();
          failures.push(
            `not settled: ${await busy()} jobs waiting or active, ${left.length} retried jobs unfinished (${left.slice(0, 3).join(', ')})`,
          );
        }
        const stepJobs = [...retriedAt.keys()].filter((key) =>
          key.startsWith(`${queueNames.steps}/`),
        ).length;
        context.log(
          `operator retries: ${retriedAt.size} completed jobs force-retried (${stepJobs} steps)`,
        );
      } finally {
        await Promise.all(queues.map((queue) => queue.close()));
        connection.disconnect();
      }
      return failures;
    },
  );
}
