import { MongoClient } from 'mongodb';
import { mapLimit } from '../../src/infra/map-limit';
import {
  benchConfig,
  deletePrefix,
  median,
  newTag,
  openStore,
  row,
  sleep,
  type BenchStore,
  type Row,
} from '../support/common';
import {
  seedDepartingUsers,
  seedOrg,
  type BenchOrg,
  type DepartingUser,
  type UserSize,
  benchApiKey,
} from '../support/fixtures';
import { floorDeactivation } from '../support/floor-writes';
import { postDeactivation, startApi, startWorker, type BenchProcess } from '../support/stack';

interface Seeded {
  store: BenchStore;
  org: BenchOrg;
  users: DepartingUser[];
}

async function seeded(dbName: string, count: number, size: UserSize): Promise<Seeded> {
  const store = await openStore(dbName);
  const org = await seedOrg(store.models, `org_bench_${newTag()}`);
  const users = await seedDepartingUsers(store.models, org, count, size);
  return { store, org, users };
}

/** Runs `body` with the driver connected to `store`'s database. */
async function withDriver<T>(
  store: BenchStore,
  body: (db: ReturnType<MongoClient['db']>) => Promise<T>,
): Promise<T> {
  const client = await MongoClient.connect(store.url);
  try {
    return await body(client.db(store.dbName));
  } finally {
    await client.close();
  }
}

/** The real API and worker processes on `store`, and a key for `org`; `stop` ends them. */
async function offboardStack(
  store: BenchStore,
  org: BenchOrg,
  concurrency: number,
  cpuProfDir: string | null,
): Promise<{ baseUrl: string; apiKey: string; stop: () => Promise<void> }> {
  const key = await benchApiKey(store.models, org.orgId);
  const options = {
    mongoUrl: store.url,
    redisUrl: benchConfig.redisUrl,
    prefix: `bench_${newTag()}`,
    concurrency,
    cpuProfDir,
  };
  const processes: BenchProcess[] = [];
  try {
    const api = await startApi(options);
    processes.push(api);
    processes.push(await startWorker(options));
    return {
      baseUrl: api.baseUrl,
      apiKey: key,
      stop: async () => {
        await Promise.all(processes.map((p) => p.stop()));
        await deletePrefix(benchConfig.redisUrl, options.prefix);
      },
    };
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop()));
    await deletePrefix(benchConfig.redisUrl, options.prefix);
    throw error;
  }
}

async function waitCompleted(store: BenchStore, runIds: string[], pollMs: number): Promise<void> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    // Equality filters only: FerretDB v1 pushes them down to PostgreSQL.
    const [completed, failed] = await Promise.all([
      store.models.deactivations.countDocuments({ status: 'completed' }),
      store.models.deactivations.countDocuments({ status: 'failed' }),
    ]);
    if (failed > 0) throw new Error(`${failed} run(s) failed`);
    if (completed >= runIds.length) return;
    if (Date.now() > deadline) throw new Error('runs did not complete in 30 minutes');
    await sleep(pollMs);
  }
}

export interface ThroughputRaw {
  users: number;
  concurrency: number;
  offboardSeconds: number;
  floorSeconds: number;
  offboardUsersPerSecond: number;
  floorUsersPerSecond: number;
}

/**
 * N small users deactivated through the HTTP API (POSTs C at a time) and the worker process
 * (WORKER_CONCURRENCY=C), from the first POST to the last run `completed`; against the driver
 * issuing the same writes for the same users, C users at a time.
 */
export async function throughputScenario(options: {
  users: number;
  concurrency: number;
  size: UserSize;
  cpuProfDir: string | null;
}): Promise<{ rows: Row[]; raw: ThroughputRaw }> {
  const tag = newTag();
  const { users: count, concurrency: c } = options;

  const app = await seeded(`bench_throughput_${tag}`, count, options.size);
  let offboardSeconds: number;
  try {
    const stack = await offboardStack(app.store, app.org, c, options.cpuProfDir);
    try {
      const started = performance.now();
      const runIds = await mapLimit(app.users, c, (user) =>
        postDeactivation(stack.baseUrl, stack.apiKey, app.org.orgId, {
          userId: user.userId,
          actorId: app.org.adminId,
        }),
      );
      await waitCompleted(app.store, runIds, 100);
      offboardSeconds = (performance.now() - started) / 1000;
    } finally {
      await stack.stop();
    }
  } finally {
    await app.store.drop();
  }

  const floor = await seeded(`bench_throughput_floor_${tag}`, count, options.size);
  let floorSeconds: number;
  try {
    floorSeconds = await withDriver(floor.store, async (db) => {
      const started = performance.now();
      await mapLimit(floor.users, c, (user) => floorDeactivation(db, floor.org, user));
      return (performance.now() - started) / 1000;
    });
  } finally {
    await floor.store.drop();
  }

  const raw = {
    users: count,
    concurrency: c,
    offboardSeconds,
    floorSeconds,
    offboardUsersPerSecond: count / offboardSeconds,
    floorUsersPerSecond: count / floorSeconds,
  };
  return {
    rows: [
      row(
        'throughput',
        `${count} users, C=${c}`,
        'users/s',
        raw.offboardUsersPerSecond,
        raw.floorUsersPerSecond,
        '>=',
        0.8,
      ),
    ],
    raw,
  };
}

export interface LatencyRaw {
  runs: number;
  offboardMs: number[];
  floorMs: number[];
  offboardMedianMs: number;
  floorMedianMs: number;
}

/**
 * POST → completed for one large user at a time (100 tokens, 20 subscriptions, 200
 * opportunities, 5 teams), median of `runs`; against the driver issuing that user's writes.
 */
export async function latencyScenario(options: {
  runs: number;
  size: UserSize;
  cpuProfDir: string | null;
}): Promise<{ rows: Row[]; raw: LatencyRaw }> {
  const tag = newTag();
  const offboardMs: number[] = [];
  const app = await seeded(`bench_latency_${tag}`, options.runs, options.size);
  try {
    const stack = await offboardStack(app.store, app.org, 8, options.cpuProfDir);
    try {
      for (const user of app.users) {
        const started = performance.now();
        const runId = await postDeactivation(stack.baseUrl, stack.apiKey, app.org.orgId, {
          userId: user.userId,
          actorId: app.org.adminId,
        });
        for (;;) {
          const run = await app.store.models.deactivations.findById(runId, { status: 1 }).lean();
          if (run?.status === 'completed') break;
          if (run?.status === 'failed') throw new Error(`run ${runId} failed`);
          await sleep(5);
        }
        offboardMs.push(performance.now() - started);
      }
    } finally {
      await stack.stop();
    }
  } finally {
    await app.store.drop();
  }

  const floorMs: number[] = [];
  const floor = await seeded(`bench_latency_floor_${tag}`, options.runs, options.size);
  try {
    await withDriver(floor.store, async (db) => {
      for (const user of floor.users) {
        const started = performance.now();
        await floorDeactivation(db, floor.org, user);
        floorMs.push(performance.now() - started);
      }
    });
  } finally {
    await floor.store.drop();
  }

  const raw = {
    runs: options.runs,
    offboardMs,
    floorMs,
    offboardMedianMs: median(offboardMs),
    floorMedianMs: median(floorMs),
  };
  const { tokens, subscriptions, opportunities, teams } = options.size;
  return {
    rows: [
      row(
        'latency',
        `median of ${options.runs}, ${tokens}/${subscriptions}/${opportunities}/${teams}`,
        'ms',
        raw.offboardMedianMs,
        raw.floorMedianMs,
        '<=',
        1.5,
      ),
    ],
    raw,
  };
}
