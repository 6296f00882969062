import type { Db } from 'mongodb';
import { mapLimit } from '../../src/infra/map-limit';
import {
  alternate,
  benchConfig,
  deletePrefix,
  newTag,
  openStore,
  withDriver,
  type BenchStore,
} from '../support/common';
import {
  seedDepartingUsers,
  seedOrg,
  type BenchOrg,
  type DepartingUser,
  type UserSize,
  benchApiKey,
} from '../support/fixtures';
import { floorDeactivation, type FloorShape } from '../support/floor-writes';
import {
  assertWrites,
  countMismatches,
  expectedCounts,
  verifyDeactivations,
  type DoneRun,
  type WriteCounts,
} from '../support/verify-writes';
import { describeCpu, measureCpu, medianCpu, type CpuByRole } from '../support/process-cpu';
import { contextRow, median, row, type Row } from '../support/sampled-row';
import { watchRunCompletions, type RunCompletions } from '../support/run-completions';
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

/** The real API and worker processes on `store`, and a key for `org`; `stop` ends them. */
async function offboardStack(
  store: BenchStore,
  org: BenchOrg,
  concurrency: number,
  cpuProfDir: string | null,
): Promise<{
  baseUrl: string;
  apiKey: string;
  /** The API's and the worker's pids, by role (for {@link measureCpu}). */
  roles: Record<number, string>;
  /** Learns of completed runs from Redis ({@link watchRunCompletions}). */
  completions: RunCompletions;
  stop: () => Promise<void>;
}> {
  const key = await benchApiKey(store.models, org.orgId);
  const options = {
    mongoUrl: store.url,
    redisUrl: benchConfig.redisUrl,
    prefix: `bench_${newTag()}`,
    concurrency,
    cpuProfDir,
  };
  const processes: BenchProcess[] = [];
  let completions: RunCompletions | null = null;
  try {
    const api = await startApi(options);
    processes.push(api);
    const worker = await startWorker(options);
    processes.push(worker);
    completions = await watchRunCompletions(store, benchConfig.redisUrl, options.prefix);
    const watching = completions;
    return {
      baseUrl: api.baseUrl,
      apiKey: key,
      roles: {
        [api.child.pid ?? -1]: 'API',
        [worker.child.pid ?? -1]: 'worker',
        [process.pid]: 'bench',
      },
      completions: watching,
      stop: async () => {
        await watching.close();
        await Promise.all(processes.map((p) => p.stop()));
        await deletePrefix(benchConfig.redisUrl, options.prefix);
      },
    };
  } catch (error) {
    await completions?.close();
    await Promise.all(processes.map((p) => p.stop()));
    await deletePrefix(benchConfig.redisUrl, options.prefix);
    throw error;
  }
}

/**
 * The floor's side of a sample, after its timing: what its own writes reported
 * (`modifiedCount`s) and what the store then holds must both be the seeded counts, per run.
 */
async function verifyFloor(
  db: Db,
  org: BenchOrg,
  outcomes: { user: DepartingUser; runId: string; counts: WriteCounts }[],
): Promise<void> {
  assertWrites(
    'floor (reported by its writes)',
    outcomes.flatMap(({ user, runId, counts }) =>
      countMismatches(`run ${runId} of ${user.userId}`, expectedCounts(user.size), counts),
    ),
    outcomes.length,
  );
  await verifyDeactivations(db, org, outcomes, 'floor (found in the store)');
}

export interface ThroughputRaw {
  users: number;
  concurrency: number;
  samples: number;
  offboardSeconds: number[];
  floorSeconds: number[];
  offboardUsersPerSecond: number[];
  floorUsersPerSecond: number[];
  /** The lower floor: effect writes, the run insert and its completion, no per-step record. */
  effectsFloorSeconds: number[];
  effectsFloorUsersPerSecond: number[];
  /**
   * Per sample, the CPU milliseconds per deactivation of every process taking part, by role
   * (bench/support/process-cpu.ts): offboard's API, worker, store and Redis, the floor's driver
   * (`bench`) and store.
   */
  offboardCpuMsPerUser: CpuByRole[];
  floorCpuMsPerUser: CpuByRole[];
}

/**
 * N small users deactivated through the HTTP API (POSTs C at a time) and the worker process
 * (WORKER_CONCURRENCY=C), from the first POST to the last run `completed`; against the driver
 * issuing the same writes for the same users, C users at a time. Each side of each sample has a
 * freshly seeded database, and its writes are checked per run after the timing.
 */
export async function throughputScenario(options: {
  users: number;
  concurrency: number;
  samples: number;
  size: UserSize;
  cpuProfDir: string | null;
  log: (line: string) => void;
}): Promise<{ rows: Row[]; raw: ThroughputRaw }> {
  const tag = newTag();
  const { users: count, concurrency: c } = options;
  const offboardCpu: CpuByRole[] = [];
  const floorCpu: CpuByRole[] = [];

  const offboardSample = async (sample: number): Promise<number> => {
    const app = await seeded(`bench_throughput_${tag}_${sample}`, count, options.size);
    try {
      let seconds: number;
      let done: DoneRun[];
      const stack = await offboardStack(app.store, app.org, c, options.cpuProfDir);
      try {
        const cpu = measureCpu(stack.roles);
        const started = performance.now();
        const runIds = await mapLimit(app.users, c, (user) =>
          postDeactivation(stack.baseUrl, stack.apiKey, app.org.orgId, {
            userId: user.userId,
            actorId: app.org.adminId,
          }),
        );
        await stack.completions.waitFor(runIds, 30 * 60_000);
        seconds = (performance.now() - started) / 1000;
        offboardCpu.push(cpu(count));
        done = app.users.map((user, i) => ({ user, runId: runIds[i] ?? '' }));
      } finally {
        await stack.stop();
      }
      await withDriver(app.store, (db) =>
        verifyDeactivations(db, app.org, done, 'offboard (found in the store)'),
      );
      return seconds;
    } finally {
      await app.store.drop();
    }
  };

  const floorSample = async (sample: number, shape: FloorShape): Promise<number> => {
    const floor = await seeded(`bench_throughput_floor_${tag}_${sample}`, count, options.size);
    try {
      return await withDriver(floor.store, async (db) => {
        const cpu = measureCpu({ [process.pid]: 'bench' });
        const started = performance.now();
        const outcomes = await mapLimit(floor.users, c, async (user) => ({
          user,
          ...(await floorDeactivation(db, floor.org, user, shape)),
        }));
        const seconds = (performance.now() - started) / 1000;
        if (shape === 'step-records') {
          floorCpu.push(cpu(count));
        }
        await verifyFloor(db, floor.org, outcomes);
        return seconds;
      });
    } finally {
      await floor.store.drop();
    }
  };

  // Both floors in each sample, after offboard's side: step records, then effects only.
  const seconds = await alternate(options.samples, offboardSample, async (sample) => ({
    records: await floorSample(sample, 'step-records'),
    effects: await floorSample(sample, 'effects-only'),
  }));
  const floorSeconds = seconds.floor.map((floor) => floor.records);
  const effectsFloorSeconds = seconds.floor.map((floor) => floor.effects);
  const raw = {
    users: count,
    concurrency: c,
    samples: options.samples,
    offboardSeconds: seconds.offboard,
    floorSeconds,
    effectsFloorSeconds,
    offboardUsersPerSecond: seconds.offboard.map((s) => count / s),
    floorUsersPerSecond: floorSeconds.map((s) => count / s),
    effectsFloorUsersPerSecond: effectsFloorSeconds.map((s) => count / s),
    offboardCpuMsPerUser: offboardCpu,
    floorCpuMsPerUser: floorCpu,
  };
  options.log(
    `  CPU per deactivation, all processes (medians): offboard ${describeCpu(medianCpu(offboardCpu))}; floor ${describeCpu(medianCpu(floorCpu))}`,
  );
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
      row(
        'throughput',
        `${count} users, C=${c}, vs effects only`,
        'users/s',
        raw.offboardUsersPerSecond,
        raw.effectsFloorUsersPerSecond,
        '>=',
        0.5,
      ),
      contextRow(
        'throughput',
        `${count} users, C=${c}, CPU per deactivation, all processes`,
        'ms',
        offboardCpu.map((cpu) => cpu.total ?? 0),
        floorCpu.map((cpu) => cpu.total ?? 0),
        '<=',
      ),
    ],
    raw,
  };
}

export interface LatencyRaw {
  runs: number;
  samples: number;
  /** Per sample, every run's time. */
  offboardMs: number[][];
  floorMs: number[][];
  offboardMedianMs: number[];
  floorMedianMs: number[];
}

/**
 * POST → completed for one large user at a time (100 tokens, 20 subscriptions, 200
 * opportunities, 5 teams), median of `runs` per sample; against the driver issuing that user's
 * writes. Each side of each sample has a freshly seeded database, checked per run afterwards.
 */
export async function latencyScenario(options: {
  runs: number;
  samples: number;
  size: UserSize;
  cpuProfDir: string | null;
}): Promise<{ rows: Row[]; raw: LatencyRaw }> {
  const tag = newTag();

  const offboardSample = async (sample: number): Promise<number[]> => {
    const times: number[] = [];
    const done: DoneRun[] = [];
    const app = await seeded(`bench_latency_${tag}_${sample}`, options.runs, options.size);
    try {
      const stack = await offboardStack(app.store, app.org, 8, options.cpuProfDir);
      try {
        for (const user of app.users) {
          const started = performance.now();
          const runId = await postDeactivation(stack.baseUrl, stack.apiKey, app.org.orgId, {
            userId: user.userId,
            actorId: app.org.adminId,
          });
          await stack.completions.waitFor([runId], 5 * 60_000);
          times.push(performance.now() - started);
          done.push({ user, runId });
        }
      } finally {
        await stack.stop();
      }
      await withDriver(app.store, (db) =>
        verifyDeactivations(db, app.org, done, 'offboard (found in the store)'),
      );
      return times;
    } finally {
      await app.store.drop();
    }
  };

  const floorSample = async (sample: number): Promise<number[]> => {
    const floor = await seeded(`bench_latency_floor_${tag}_${sample}`, options.runs, options.size);
    try {
      return await withDriver(floor.store, async (db) => {
        const times: number[] = [];
        const outcomes = [];
        for (const user of floor.users) {
          const started = performance.now();
          const outcome = await floorDeactivation(db, floor.org, user);
          times.push(performance.now() - started);
          outcomes.push({ user, ...outcome });
        }
        await verifyFloor(db, floor.org, outcomes);
        return times;
      });
    } finally {
      await floor.store.drop();
    }
  };

  const times = await alternate(options.samples, offboardSample, floorSample);
  const raw = {
    runs: options.runs,
    samples: options.samples,
    offboardMs: times.offboard,
    floorMs: times.floor,
    offboardMedianMs: times.offboard.map(median),
    floorMedianMs: times.floor.map(median),
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
        1.2,
      ),
    ],
    raw,
  };
}
