import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { mapLimit } from '../../src/infra/map-limit';
import { deletePrefix, newTag, openStore, sleep, withDriver } from '../support/common';
import { benchApiKey, seedDepartingUsers, seedOrg, type UserSize } from '../support/fixtures';
import { row, type Row } from '../support/sampled-row';
import { postDeactivation, startApi, startWorker, type BenchProcess } from '../support/stack';
import { verifyDeactivations } from '../support/verify-writes';

/** How many worker processes each sample runs, the first being the baseline. */
export const workerCounts = [1, 2, 4] as const;

const servicesScript = path.join(__dirname, '../../scripts/services.sh');

/** The local Redis Cluster (`services.sh cluster`, 3 masters and 3 replicas), started if down. */
function localClusterUrl(): string {
  execFileSync('bash', [servicesScript, 'cluster', 'start', '--quiet'], { stdio: 'inherit' });
  return execFileSync('bash', [servicesScript, 'cluster', 'url']).toString().trim();
}

export interface ScaleOutRaw {
  redisUrl: string;
  users: number;
  concurrency: number;
  samples: number;
  /** Per worker count, users/s of each sample. */
  usersPerSecond: Record<string, number[]>;
}

/**
 * N small users through one API process and 1, 2 or 4 worker processes (each
 * WORKER_CONCURRENCY=C) on the local Redis Cluster, from the first POST to the last run
 * `completed`; every run's writes are checked afterwards. Each figure is compared with the
 * single worker process of the same sample: how the work scales with processes on this machine.
 */
export async function scaleOutScenario(options: {
  users: number;
  concurrency: number;
  samples: number;
  size: UserSize;
}): Promise<{ rows: Row[]; raw: ScaleOutRaw }> {
  const redisUrl = localClusterUrl();
  const usersPerSecond: Record<string, number[]> = Object.fromEntries(
    workerCounts.map((count) => [String(count), []]),
  );
  const measure = async (workers: number, sample: number): Promise<number> => {
    const store = await openStore(`bench_scaleout_${newTag()}_${workers}_${sample}`);
    const prefix = `{bench_${newTag()}}`;
    const processes: BenchProcess[] = [];
    try {
      const org = await seedOrg(store.models, `org_bench_${newTag()}`);
      const users = await seedDepartingUsers(store.models, org, options.users, options.size);
      const apiKey = await benchApiKey(store.models, org.orgId);
      const stack = { mongoUrl: store.url, redisUrl, prefix, concurrency: options.concurrency };
      const api = await startApi({ ...stack, cpuProfDir: null });
      processes.push(api);
      for (let index = 0; index < workers; index += 1) {
        processes.push(await startWorker({ ...stack, cpuProfDir: null }));
      }
      const started = performance.now();
      const runIds = await mapLimit(users, options.concurrency, (user) =>
        postDeactivation(api.baseUrl, apiKey, org.orgId, {
          userId: user.userId,
          actorId: org.adminId,
        }),
      );
      const deadline = Date.now() + 30 * 60_000;
      for (;;) {
        const completed = await store.models.deactivations.countDocuments({ status: 'completed' });
        if (completed >= runIds.length) break;
        if (Date.now() > deadline) throw new Error('runs did not complete in 30 minutes');
        await sleep(100);
      }
      const seconds = (performance.now() - started) / 1000;
      await withDriver(store, (db) =>
        verifyDeactivations(
          db,
          org,
          users.map((user, i) => ({ user, runId: runIds[i] ?? '' })),
          `${workers} worker process(es) (found in the store)`,
        ),
      );
      return options.users / seconds;
    } finally {
      await Promise.all(processes.map((process) => process.stop()));
      await deletePrefix(redisUrl, prefix);
      await store.drop();
    }
  };
  for (let sample = 0; sample < options.samples; sample += 1) {
    // The order turns each sample, so a slow spell of the shared machine is not always one count's.
    const order = workerCounts.map((_, i) => workerCounts[(i + sample) % workerCounts.length] ?? 1);
    for (const workers of order) {
      usersPerSecond[String(workers)]?.push(await measure(workers, sample));
    }
  }
  const baseline = usersPerSecond['1'] ?? [];
  return {
    rows: workerCounts.map((workers) =>
      row(
        'scale-out',
        `${workers} worker process${workers === 1 ? '' : 'es'} vs 1, ${options.users} users, C=${options.concurrency}, Redis Cluster`,
        'users/s',
        usersPerSecond[String(workers)] ?? [],
        baseline,
        '>=',
        // On 2 shared cores more processes cannot add CPU; they must not cost more than a fifth.
        0.8,
      ),
    ),
    raw: {
      redisUrl,
      users: options.users,
      concurrency: options.concurrency,
      samples: options.samples,
      usersPerSecond,
    },
  };
}
