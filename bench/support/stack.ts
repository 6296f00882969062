import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { Queue } from 'bullmq';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { queueNames, queuePrefixFor, type QueueName } from '../../src/queues/queue-names';
import { freePort } from '../../test-kit/free-port';
import { sleep, waitFor } from './common';

const root = path.join(__dirname, '../..');

/** A service process of the bench: `api-main` or `worker-main`, as `npm run start:*` runs it. */
export interface BenchProcess {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Where the processes of one scenario keep their data, and how they run. */
export interface StackOptions {
  mongoUrl: string;
  redisUrl: string;
  prefix: string;
  concurrency: number;
  /** Folder for `--cpu-prof` profiles of the processes (BENCH_CPU_PROF), or null. */
  cpuProfDir: string | null;
  /** More environment for the processes (a scenario's own settings). */
  env?: Record<string, string>;
  /** The queues a worker serves (WORKER_QUEUES); the two deactivation queues when absent. */
  queues?: QueueName[];
}

export function startBenchProcess(
  entry: 'api-main' | 'worker-main',
  options: StackOptions,
  port: number,
): BenchProcess {
  const nodeArgs = options.cpuProfDir
    ? // A folder per entry: node writes one profile per thread (tsx's loader has one of its own).
      ['--cpu-prof', '--cpu-prof-dir', path.join(options.cpuProfDir, entry)]
    : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(root, `src/entry/${entry}.ts`)],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        MONGO_URL: options.mongoUrl,
        REDIS_URL: options.redisUrl,
        QUEUE_PREFIX: options.prefix,
        WORKER_CONCURRENCY: String(options.concurrency),
        LOG_LEVEL: 'warn',
        PORT: String(port),
        ...options.env,
        ...(options.queues ? { WORKER_QUEUES: options.queues.join(',') } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The API process, answering `/healthz`. */
export async function startApi(options: StackOptions): Promise<BenchProcess & { baseUrl: string }> {
  const port = await freePort();
  const api = startBenchProcess('api-main', options, port);
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (api.child.exitCode !== null) throw new Error(`the API exited early:\n${api.output()}`);
      try {
        return (await fetch(`${baseUrl}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    'the API to listen',
    60_000,
    200,
  );
  return { ...api, baseUrl };
}

/** A worker process, once its workers (of `options.queues`) are connected to Redis. */
export async function startWorker(options: StackOptions): Promise<BenchProcess> {
  const worker = startBenchProcess('worker-main', options, 0);
  const redis = createRedisConnection(options.redisUrl, 'worker');
  const queues = (options.queues ?? [queueNames.runs, queueNames.steps]).map(
    (name) => new Queue(name, { connection: redis, prefix: queuePrefixFor(options.prefix, name) }),
  );
  try {
    await waitFor(
      async () => {
        if (worker.child.exitCode !== null)
          throw new Error(`the worker exited early:\n${worker.output()}`);
        const counts = await Promise.all(queues.map((queue) => queue.getWorkersCount()));
        return counts.every((count) => count > 0);
      },
      'the workers to connect',
      60_000,
      200,
    );
    // The worker's start-up work (schedulers, index checks) settles before anything is timed.
    await sleep(500);
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
    redis.disconnect();
  }
  return worker;
}

/** POSTs a deactivation; resolves with the run id, or throws on anything but 202. */
export async function postDeactivation(
  baseUrl: string,
  apiKey: string,
  orgId: string,
  body: { userId: string; actorId: string },
): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/orgs/${orgId}/deactivations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 202) throw new Error(`POST answered ${response.status}: ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}
