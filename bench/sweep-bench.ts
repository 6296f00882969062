/**
 * `npm run bench:sweep -- --users 100000`: seeds N users (20 % dormant) in one organization,
 * runs one sweep through a real worker process and prints wall time, users/s and the worker's
 * peak RSS; then, on the same store in the same run, times the plain driver doing the same
 * selection and inserting the same run documents (the floor). `--json`: the figures alone, as
 * one JSON line on stdout.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../src/config/config';
import { newRun } from '../src/deactivation/request-deactivation';
import { buildPlan } from '../src/domain/deactivation-plan';
import { inactivityCutoff } from '../src/domain/activity';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    dormant: { type: 'string', default: '0.2' },
    // Only the JSON line of figures on stdout (bench/run-bench.ts reads it).
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.users);
const dormantShare = Number(values.dormant);
const tag = randomBytes(3).toString('hex');
const orgId = `org_sweep_${tag}`;
const dbName = `bench_sweep_${tag}`;
const prefix = `benchsweep${tag}`;
const day = 24 * 60 * 60 * 1000;
const root = path.join(__dirname, '..');

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const mongoUrl = new URL(config.mongoUrl);
  mongoUrl.pathname = `/${dbName}`;
  const client = await MongoClient.connect(mongoUrl.toString());
  const db = client.db(dbName);
  const now = Date.now();

  // --- seed ---------------------------------------------------------------------------------
  let started = performance.now();
  await db
    .collection('organizations')
    .insertOne({ _id: orgId as never, name: 'Sweep bench', createdAt: new Date() });
  const batch = 5_000;
  for (let offset = 0; offset < total; offset += batch) {
    const docs = [];
    for (let i = offset; i < Math.min(total, offset + batch); i += 1) {
      const dormant = i % Math.round(1 / dormantShare) === 0;
      docs.push({
        _id: `u${String(i).padStart(7, '0')}`,
        orgId,
        kind: i % 10 === 1 ? 'customer' : 'employee',
        email: `user${i}@sweep.example`,
        firstName: 'Sweep',
        lastName: `User${i}`,
        role: i === 0 || i === 7 ? 'admin' : 'member',
        status: 'active',
        lastLoginAt: new Date(now - (dormant ? 200 : 3) * day),
        createdAt: new Date(now - 400 * day),
        allowReactivationOnPurchase: false,
      });
    }
    await db.collection('users').insertMany(docs as never[], { ordered: false });
  }
  const seeded = `seeded ${total} users in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  if (values.json) console.error(seeded);
  else console.log(seeded);

  // Indexes as the service declares them (the worker would create them at start too).
  const worker = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'src/entry/worker-main.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        MONGO_URL: mongoUrl.toString(),
        QUEUE_PREFIX: prefix,
        WORKER_QUEUES: 'sweeps,bulk-deactivations',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const sweeps = new Queue('sweeps', { connection: redis, prefix });
  try {
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    await db.collection('organizations').updateOne(
      { _id: orgId as never },
      {
        $set: {
          sweepPolicy: {
            enabled: true,
            inactiveDays: 90,
            neverLoggedInDays: null,
            exemptRoles: [],
            cron: '0 3 * * *',
            timezone: 'UTC',
            dryRun: false,
            maxPerRun: total,
          },
        },
      },
    );

    // --- the sweep ----------------------------------------------------------------------------
    started = performance.now();
    await sweeps.add(`sweep ${orgId}`, { orgId }, { jobId: `bench-${tag}` });
    interface Report {
      status?: string;
      selected?: number;
      deactivated?: number;
      matched?: number;
    }
    let report: Report | null = null;
    for (;;) {
      report = await db.collection<Report>('sweeps').findOne({ orgId });
      if (report?.status === 'completed' || report?.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const sweepSeconds = (performance.now() - started) / 1000;
    const peak = peakRssMb(worker.pid ?? 0);
    const deactivated = report.deactivated ?? 0;

    // --- the floor: the plain driver, same selection, same run documents ----------------------
    const floorDb = client.db(`${dbName}_floor`);
    started = performance.now();
    const cursor = db
      .collection('users')
      .find(
        {
          orgId,
          status: 'inactive',
          lastLoginAt: { $type: 'date', $lt: inactivityCutoff(new Date(), 90) },
        },
        { projection: { _id: 1, kind: 1, orgId: 1 } },
      )
      .sort({ _id: 1 })
      .batchSize(1_000);
    let pending: object[] = [];
    let floorRuns = 0;
    for await (const user of cursor) {
      const plan = buildPlan({
        userKind: user.kind as 'employee' | 'customer',
        allowReactivationOnPurchase: false,
        cutoff: new Date(),
        target: null,
        teamIds: [],
        counts: {
          'revoke-tokens': 0,
          'cancel-subscriptions': 0,
          'transfer-opportunities': 0,
          'remove-from-teams': 0,
          'blocklist-email': 1,
        },
      });
      pending.push({
        ...newRun(
          { orgId, userId: String(user._id), actorId: 'system:sweep', source: 'sweep' },
          { _id: String(user._id), orgId, reactivatedAt: null },
          plan,
          new Date(),
        ),
        bulkId: 'floor',
      });
      if (pending.length === 200) {
        await floorDb.collection('deactivations').insertMany(pending, { ordered: false });
        floorRuns += pending.length;
        pending = [];
      }
    }
    if (pending.length > 0) {
      await floorDb.collection('deactivations').insertMany(pending, { ordered: false });
      floorRuns += pending.length;
    }
    const floorSeconds = (performance.now() - started) / 1000;
    await floorDb.dropDatabase();

    console.log(
      JSON.stringify({
        users: total,
        matched: report.matched,
        deactivated,
        sweepSeconds: Number(sweepSeconds.toFixed(2)),
        usersPerSecond: Math.round(deactivated / sweepSeconds),
        workerPeakRssMb: Number(peak.toFixed(1)),
        floorSeconds: Number(floorSeconds.toFixed(2)),
        floorRuns,
        ratio: Number((sweepSeconds / floorSeconds).toFixed(2)),
      }),
    );
  } finally {
    worker.kill('SIGTERM');
    await sweeps.obliterate({ force: true }).catch(() => undefined);
    await sweeps.close();
    const cleaner = new Redis(config.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await cleaner.del(...keys);
    } while (cursor !== '0');
    cleaner.disconnect();
    redis.disconnect();
    await db.dropDatabase();
    await client.close();
  }
}

void main();
