import { readFileSync } from 'node:fs';
import type { Db, Filter } from 'mongodb';
import { bulkBatchSize } from '../../src/bulk/bulk-selection';
import { dormantUsersFilter } from '../../src/bulk/select-dormant-users';
import { newRun } from '../../src/deactivation/request-deactivation';
import { buildPlan } from '../../src/domain/deactivation-plan';
import { mapLimit } from '../../src/infra/map-limit';
import type { SweepPolicy } from '../../src/models/organization.model';
import { queueNames } from '../../src/queues/queue-names';
import { sweepActorId } from '../../src/sweeps/run-sweep.job';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sweepPolicyFixture } from '../../test-kit/factories';
import {
  alternate,
  benchConfig,
  deletePrefix,
  newTag,
  openStore,
  waitFor,
  withDriver,
  type BenchStore,
} from '../support/common';
import { median, round, row, type Row } from '../support/sampled-row';
import { describeCpu, measureCpu, medianCpu, type CpuByRole } from '../support/process-cpu';
import { startWorker } from '../support/stack';
import { assertWrites, verifySweepWrites } from '../support/verify-writes';

const dayMs = 24 * 60 * 60 * 1000;

/** The sweep of every sample: 90 days without a login, nothing exempt, no cap below N. */
function policy(users: number): SweepPolicy {
  return sweepPolicyFixture({ maxPerRun: users });
}

/**
 * One organization of `users` users, every `1 / dormantShare`-th dormant (200 days since the last
 * login, the others 3), two admins (one dormant), no teams; with the driver, in batches. Returns
 * the dormant users' ids: who a sweep must deactivate (the dormant admin too, as one stays).
 */
async function seedSweepOrg(
  store: BenchStore,
  orgId: string,
  users: number,
  dormantShare: number,
): Promise<Set<string>> {
  const now = Date.now();
  const every = Math.round(1 / dormantShare);
  const dormant = new Set<string>();
  await store.models.organizations.collection.insertOne({
    _id: orgId,
    name: 'Sweep bench',
    createdAt: new Date(),
  } as never);
  for (let offset = 0; offset < users; offset += 5_000) {
    const docs = [];
    for (let i = offset; i < Math.min(users, offset + 5_000); i += 1) {
      const _id = `u${String(i).padStart(7, '0')}`;
      const isDormant = i % every === 0;
      if (isDormant) dormant.add(_id);
      docs.push({
        _id,
        orgId,
        kind: i % 10 === 1 ? 'customer' : 'employee',
        email: `user${i}@sweep.example`,
        firstName: 'Sweep',
        lastName: `User${i}`,
        role: i === 0 || i === 7 ? 'admin' : 'member',
        status: 'active',
        lastLoginAt: new Date(now - (isDormant ? 200 : 3) * dayMs),
        createdAt: new Date(now - 400 * dayMs),
        allowReactivationOnPurchase: false,
      });
    }
    await store.models.users.collection.insertMany(docs as never[], { ordered: false });
  }
  return dormant;
}

function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

interface SweepReport {
  status?: string;
  matched?: number;
  selected?: number;
  deactivated?: number;
}

/** One sweep through a real worker process (sweeps and bulk queues), timed job → report done. */
async function offboardSweep(
  users: number,
  dormantShare: number,
  dbName: string,
): Promise<{
  seconds: number;
  workerPeakRssMb: number;
  matched: number;
  deactivated: number;
  cpu: CpuByRole;
}> {
  const store = await openStore(dbName);
  const orgId = `org_sweep_${newTag()}`;
  const prefix = `benchsweep${newTag()}`;
  try {
    const dormant = await seedSweepOrg(store, orgId, users, dormantShare);
    const worker = await startWorker({
      mongoUrl: store.url,
      redisUrl: benchConfig.redisUrl,
      prefix,
      concurrency: benchConfig.workerConcurrency,
      cpuProfDir: null,
      queues: [queueNames.sweeps, queueNames.bulk],
    });
    const redis = new Redis(benchConfig.redisUrl, { maxRetriesPerRequest: null });
    const sweeps = new Queue(queueNames.sweeps, { connection: redis, prefix });
    let timed: { seconds: number; workerPeakRssMb: number; report: SweepReport; cpu: CpuByRole };
    const roles = { [worker.child.pid ?? -1]: 'worker', [process.pid]: 'bench' };
    try {
      // After the worker started, so its scheduler does not register this policy's cron.
      await store.models.organizations.updateOne(
        { _id: orgId },
        { $set: { sweepPolicy: policy(users) } },
      );
      const cpu = measureCpu(roles);
      const started = performance.now();
      await sweeps.add(`sweep ${orgId}`, { orgId }, { jobId: `bench-${prefix}` });
      let report: SweepReport = {};
      await waitFor(
        async () => {
          report = (await store.models.sweeps.collection.findOne<SweepReport>({ orgId })) ?? {};
          if (report.status === 'failed') throw new Error('the sweep failed');
          return report.status === 'completed';
        },
        'the sweep to complete',
        // 30 minutes, and 30 more per 25,000 users beyond the first 25,000.
        Math.max(1, Math.ceil(users / 25_000)) * 30 * 60_000,
        100,
      );
      const seconds = (performance.now() - started) / 1000;
      timed = {
        seconds,
        workerPeakRssMb: peakRssMb(worker.child.pid),
        report,
        cpu: cpu(dormant.size),
      };
    } finally {
      await sweeps.close();
      redis.disconnect();
      await worker.stop();
    }
    // Outside the timing: the sweep's own report, then what the store holds.
    assertWrites(
      'offboard (its sweep report)',
      timed.report.deactivated === dormant.size
        ? []
        : [`deactivated ${timed.report.deactivated ?? 0} of ${dormant.size}`],
      dormant.size,
    );
    await withDriver(store, (db) => verifySweepWrites(db, orgId, dormant, 'offboard'));
    return {
      seconds: timed.seconds,
      workerPeakRssMb: timed.workerPeakRssMb,
      matched: timed.report.matched ?? 0,
      deactivated: timed.report.deactivated ?? 0,
      cpu: timed.cpu,
    };
  } finally {
    await deletePrefix(benchConfig.redisUrl, prefix);
    await store.drop();
  }
}

/**
 * The writes a sweep cannot avoid, with the plain driver: the sweep's own selection (the same
 * filter, sorted by `_id`, one cursor), then per batch of the bulk's size the run documents in
 * one insert and each user switched to `inactive` (conditional on `active`, 8 at a time), as
 * acceptDeactivations (src/deactivation/request-deactivation.ts) does. Returns the count each
 * write reported.
 */
async function floorWrites(
  db: Db,
  orgId: string,
  users: number,
): Promise<{ inserted: number; switched: number }> {
  const now = new Date();
  const { inactiveDays, neverLoggedInDays } = policy(users);
  // The criteria src/sweeps/run-sweep.job.ts passes (exempt roles it skips in memory).
  const filter = dormantUsersFilter(orgId, { inactiveDays, neverLoggedInDays }, now);
  if (filter === null) throw new Error('the sweep policy selects nobody');
  const cursor = db
    .collection<{ _id: string; kind: 'employee' | 'customer' }>('users')
    // The same filter object; only its type is mongoose's.
    .find(filter as Filter<{ _id: string; kind: 'employee' | 'customer' }>, {
      projection: { _id: 1, kind: 1 },
    })
    .sort({ _id: 1 })
    .batchSize(1_000);
  const counts = { inserted: 0, switched: 0 };
  const write = async (page: { _id: string; kind: 'employee' | 'customer' }[]): Promise<void> => {
    const runs = page.map((user) => ({
      ...newRun(
        { orgId, userId: user._id, actorId: sweepActorId, source: 'sweep', reason: null },
        { _id: user._id, orgId, reactivatedAt: null },
        buildPlan({
          userKind: user.kind,
          allowReactivationOnPurchase: false,
          cutoff: now,
          target: null,
          teamIds: [],
          counts: {
            'revoke-tokens': 0,
            'cancel-subscriptions': 0,
            'transfer-opportunities': 0,
            'remove-from-teams': 0,
            'blocklist-email': 1,
          },
        }),
        now,
      ),
      bulkId: 'floor',
    }));
    const inserted = await db
      .collection<{ _id: string }>('deactivations')
      .insertMany(runs, { ordered: false });
    counts.inserted += inserted.insertedCount;
    const switched = await mapLimit(runs, 8, (run) =>
      db.collection<{ _id: string }>('users').updateOne(
        { _id: run.userId, orgId, status: 'active' },
        {
          $set: {
            status: 'inactive',
            deactivatedAt: now,
            deactivatedBy: sweepActorId,
            deactivationId: run._id,
            allowReactivationOnPurchase: false,
          },
        },
      ),
    );
    counts.switched += switched.reduce((sum, result) => sum + result.modifiedCount, 0);
  };
  let page: { _id: string; kind: 'employee' | 'customer' }[] = [];
  for await (const user of cursor) {
    page.push(user);
    if (page.length === bulkBatchSize) {
      await write(page);
      page = [];
    }
  }
  if (page.length > 0) await write(page);
  return counts;
}

async function floorSweep(
  users: number,
  dormantShare: number,
  dbName: string,
): Promise<{ seconds: number; cpu: CpuByRole }> {
  const store = await openStore(dbName);
  const orgId = `org_sweep_${newTag()}`;
  try {
    const dormant = await seedSweepOrg(store, orgId, users, dormantShare);
    return await withDriver(store, async (db) => {
      const measured = measureCpu({ [process.pid]: 'bench' });
      const started = performance.now();
      const counts = await floorWrites(db, orgId, users);
      const seconds = (performance.now() - started) / 1000;
      const cpu = measured(dormant.size);
      assertWrites(
        'floor (reported by its writes)',
        counts.inserted === dormant.size && counts.switched === dormant.size
          ? []
          : [
              `${counts.inserted} runs inserted, ${counts.switched} users switched of ${dormant.size}`,
            ],
        dormant.size,
      );
      await verifySweepWrites(db, orgId, dormant, 'floor (found in the store)');
      return { seconds, cpu };
    });
  } finally {
    await store.drop();
  }
}

export interface SweepRaw {
  users: number;
  dormant: number;
  samples: number;
  sweepSeconds: number[];
  floorSeconds: number[];
  usersPerSecond: number[];
  workerPeakRssMb: number[];
  matched: number[];
  deactivated: number[];
  /** Per sample, CPU milliseconds per dormant user of every process taking part, by role. */
  offboardCpuMsPerDormant: CpuByRole[];
  floorCpuMsPerDormant: CpuByRole[];
}

/**
 * A real worker process sweeps N users (20 % dormant) of a freshly seeded database; the floor,
 * in a second database seeded the same way, makes the sweep's selection with the driver and
 * issues the writes a sweep must (insert the runs, switch each user). Alternating samples; each
 * side's writes are checked after its timing.
 */
export async function sweepScenario(options: {
  users: number;
  samples: number;
  dormantShare?: number;
  log?: (line: string) => void;
}): Promise<{ rows: Row[]; raw: SweepRaw }> {
  const { users, samples } = options;
  const dormantShare = options.dormantShare ?? 0.2;
  const tag = newTag();
  const measured = await alternate(
    samples,
    (sample) => offboardSweep(users, dormantShare, `bench_sweep_${tag}_${sample}`),
    (sample) => floorSweep(users, dormantShare, `bench_sweep_floor_${tag}_${sample}`),
  );
  const deactivated = measured.offboard.map((m) => m.deactivated);
  const raw: SweepRaw = {
    users,
    dormant: deactivated[0] ?? 0,
    samples,
    sweepSeconds: measured.offboard.map((m) => round(m.seconds, 3)),
    floorSeconds: measured.floor.map((s) => round(s.seconds, 3)),
    usersPerSecond: measured.offboard.map((m) => Math.round(m.deactivated / m.seconds)),
    workerPeakRssMb: measured.offboard.map((m) => Math.round(m.workerPeakRssMb * 10) / 10),
    matched: measured.offboard.map((m) => m.matched),
    deactivated,
    offboardCpuMsPerDormant: measured.offboard.map((m) => m.cpu),
    floorCpuMsPerDormant: measured.floor.map((s) => s.cpu),
  };
  options.log?.(
    `  CPU per dormant user, all processes (medians): offboard ${describeCpu(medianCpu(raw.offboardCpuMsPerDormant))}; floor ${describeCpu(medianCpu(raw.floorCpuMsPerDormant))}`,
  );
  return {
    rows: [
      row(
        'sweep',
        `${users} users, ${raw.dormant} dormant`,
        's',
        raw.sweepSeconds,
        raw.floorSeconds,
        '<=',
        1.5,
      ),
    ],
    raw,
  };
}

/**
 * The sweep rows of `npm run bench`: `users` with `samples` alternating samples, then `large`
 * users once (0: not at all), and the worker's peak RSS at the large size against the median at
 * the small one (the same within ± 20 %: a sweep streams its selection).
 */
export async function sweepScenarios(
  users: number,
  large: number,
  samples: number,
  log: (line: string) => void,
): Promise<{ rows: Row[]; raw: { small: SweepRaw; large: SweepRaw | null } }> {
  const small = await sweepScenario({ users, samples, log });
  if (large === 0) return { rows: small.rows, raw: { small: small.raw, large: null } };
  log(`  sweep of ${large} users, once…`);
  const big = await sweepScenario({ users: large, samples: 1, log });
  const rss = row(
    'sweep',
    `worker peak RSS, ${large} vs ${users} users`,
    'MB',
    big.raw.workerPeakRssMb,
    [median(small.raw.workerPeakRssMb)],
    '<=',
    1.2,
  );
  return { rows: [...small.rows, ...big.rows, rss], raw: { small: small.raw, large: big.raw } };
}
