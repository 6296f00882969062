import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { createRedisConnection } from '../src/infra/redis-connection';
import { queueNames } from '../src/queues/queue-names';
import { freePort } from '../test-kit/free-port';
import {
  killService,
  startServiceProcess,
  startWorkerProcess,
  type ServiceProcess,
} from '../test-kit/service-process';

// A drill's processes: their environment, the API and the workers, supervised as a process
// manager would.

/** Operator credentials the drills' processes are started with. */
export const drillOperator = { username: 'drill', password: 'drill-password' };

/** The environment of a drill's processes: fast stall detection and reconciliation. */
export function drillEnv(
  mongoUrl: string,
  dbName: string,
  redisUrl: string,
): Record<string, string> {
  const url = new URL(mongoUrl);
  url.pathname = `/${dbName}`;
  return {
    MONGO_URL: url.toString(),
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `drill${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: '8',
    WORKER_LOCK_DURATION_MS: '5000',
    RECONCILE_INTERVAL_MS: '2000',
    RECONCILE_GRACE_MS: '3000',
    // Quicker than the minute of production, so a drill's FLUSHALL recovers within seconds.
    SCHEDULER_CHECK_INTERVAL_MS: '5000',
    SHUTDOWN_TIMEOUT_MS: '15000',
    DASHBOARD_USERNAME: drillOperator.username,
    DASHBOARD_PASSWORD: drillOperator.password,
    // The driver's own structured logs (topology, server selection, connections), when asked
    // for: the processes get no other environment of the drill's.
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] =>
          entry[0].startsWith('MONGODB_LOG_') && entry[1] !== undefined,
      ),
    ),
  };
}

/** The API process and the worker processes of a drill. */
export interface DrillProcesses {
  api: ServiceProcess;
  workers: ServiceProcess[];
  /** Worker processes started to replace ones that died. */
  restarts: () => number;
  close: () => Promise<void>;
}

/**
 * Waits until `count` worker processes serve the steps queue (BullMQ names each worker's
 * blocking connection after its queue): a process is up well before that (loading the code,
 * checking the schedulers), and a fault meant for running workers must not land before.
 */
async function waitForWorkers(
  env: Record<string, string>,
  workers: ServiceProcess[],
  count: number,
): Promise<void> {
  // The service's own factory: a `redis+cluster://` URL (the cluster drill) needs a Cluster client.
  const connection = createRedisConnection(env.REDIS_URL ?? '', 'worker');
  const steps = new Queue(queueNames.steps, { connection, prefix: env.QUEUE_PREFIX ?? '' });
  try {
    const deadline = Date.now() + 60_000;
    while ((await steps.getWorkersCount()) < count) {
      if (Date.now() > deadline) {
        const last = workers.at(-1)?.output().slice(-2_000) ?? '';
        throw new Error(`the workers did not start within 60 s; the last one wrote:\n${last}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await steps.close();
    connection.disconnect();
  }
}

const alive = (service: ServiceProcess): boolean =>
  service.child.exitCode === null && service.child.signalCode === null;

/**
 * Starts the API and `workerCount` workers, and supervises the workers the way a process
 * manager would: one that dies (killed, or exiting because a dependency was away at start-up)
 * is replaced within half a second.
 */
export async function startDrillProcesses(
  apiEnv: Record<string, string>,
  workerEnv: Record<string, string>,
  workerCount: number,
): Promise<DrillProcesses> {
  const api = await startServiceProcess('api-main', apiEnv, await freePort());
  const workers: ServiceProcess[] = [];
  let restarted = 0;
  for (let index = 0; index < workerCount; index += 1) {
    workers.push(await startWorkerProcess(workerEnv));
  }
  let supervising = true as boolean;
  const supervisor = (async () => {
    while (supervising) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const missing = workerCount - workers.filter(alive).length;
      for (let index = 0; index < missing; index += 1) {
        workers.push(await startWorkerProcess(workerEnv));
        restarted += 1;
      }
    }
  })();
  // With the supervisor on: one that exits at start-up is replaced, as later on.
  await waitForWorkers(workerEnv, workers, workerCount).catch(async (error: unknown) => {
    supervising = false;
    await supervisor;
    for (const service of [api, ...workers]) await killService(service);
    throw error;
  });
  return {
    api,
    workers,
    restarts: () => restarted,
    close: async () => {
      supervising = false;
      await supervisor;
      for (const service of [api, ...workers]) await killService(service);
    },
  };
}
