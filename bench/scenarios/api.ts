import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../test-kit/free-port';
import {
  alternate,
  benchConfig,
  deletePrefix,
  newTag,
  openStore,
  waitFor,
} from '../support/common';
import { row, type Row } from '../support/sampled-row';
import { seedDepartingUsers, seedOrg, smallUser, benchApiKey } from '../support/fixtures';
import { postDeactivation, startApi } from '../support/stack';

const root = path.join(__dirname, '../..');
const run = promisify(execFile);

/** What the issue compares: mean requests per second and the 99th percentile latency. */
interface Load {
  requestsPerSecond: number;
  p99Ms: number;
  p50Ms: number;
  total: number;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p99: number; p50: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** autocannon's CLI in a process of its own, `--json`. */
async function autocannon(
  url: string,
  options: {
    seconds: number;
    connections: number;
    method: string;
    headers: string[];
    body?: string;
  },
): Promise<Load> {
  const args = [
    path.join(root, 'node_modules/autocannon/autocannon.js'),
    '--json',
    '-c',
    String(options.connections),
    '-d',
    String(options.seconds),
    '-m',
    options.method,
    ...options.headers.flatMap((header) => ['-H', header]),
    ...(options.body === undefined ? [] : ['-b', options.body]),
    url,
  ];
  const { stdout } = await run(process.execPath, args, { cwd: root, maxBuffer: 16 * 2 ** 20 });
  const result = JSON.parse(stdout) as AutocannonJson;
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(
      `autocannon ${options.method} ${url}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    p50Ms: result.latency.p50,
    total: result.requests.total,
  };
}

async function warmUp(url: string, init: RequestInit): Promise<unknown> {
  let body: unknown = null;
  for (let i = 0; i < 50; i += 1) {
    const response = await fetch(url, init);
    body = await response.json();
    if (!response.ok)
      throw new Error(`${url} answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body;
}

export interface ApiRaw {
  seconds: number;
  connections: number;
  samples: number;
  offboard: { dryRun: Load; get: Load }[];
  floor: { dryRun: Load; get: Load }[];
}

/** The bare Express app (bench/support/bare-api.ts) in a process of its own, listening. */
async function startBare(
  bodiesFile: string,
): Promise<{ baseUrl: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const bare = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../support/bare-api.ts'), String(port), bodiesFile],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const stop = async (): Promise<void> => {
    if (bare.exitCode !== null || bare.signalCode !== null) return;
    const exited = once(bare, 'exit');
    bare.kill('SIGTERM');
    await exited;
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        try {
          return (await fetch(`${baseUrl}/healthz`)).ok;
        } catch {
          return false;
        }
      },
      'the bare API to listen',
      60_000,
      200,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, stop };
}

/**
 * `POST /deactivations?dryRun=true` and `GET /deactivations/:id` of the real API process under
 * autocannon (a second process), against a bare Express app (bench/support/bare-api.ts) with the
 * same body parsing and zod schemas answering the same bodies, in a process of its own. Both
 * processes stay up for the whole scenario; the loads alternate, offboard then the floor, per
 * sample.
 */
export async function apiScenario(options: {
  seconds: number;
  connections: number;
  samples: number;
  cpuProfDir: string | null;
}): Promise<{ rows: Row[]; raw: ApiRaw }> {
  const store = await openStore(`bench_api_${newTag()}`);
  const prefix = `bench_${newTag()}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'offboard-bench-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const org = await seedOrg(store.models, `org_bench_${newTag()}`);
    const [previewed, deactivated] = await seedDepartingUsers(store.models, org, 2, smallUser);
    if (!previewed || !deactivated) throw new Error('seeding failed');
    const key = await benchApiKey(store.models, org.orgId);
    const api = await startApi({
      mongoUrl: store.url,
      redisUrl: benchConfig.redisUrl,
      prefix,
      concurrency: 8,
      cpuProfDir: options.cpuProfDir,
    });
    stops.push(api.stop);
    const load = { seconds: options.seconds, connections: options.connections };
    const headers = [`authorization=Bearer ${key}`, 'content-type=application/json'];
    const dryRunBody = JSON.stringify({ userId: previewed.userId, actorId: org.adminId });
    const dryRunPath = `/v1/orgs/${org.orgId}/deactivations?dryRun=true`;
    // A run to read (pending: no worker runs in this scenario).
    const runId = await postDeactivation(api.baseUrl, key, org.orgId, {
      userId: deactivated.userId,
      actorId: org.adminId,
    });
    const getPath = `/v1/orgs/${org.orgId}/deactivations/${runId}`;
    const authHeaders = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const bodies = {
      dryRun: await warmUp(`${api.baseUrl}${dryRunPath}`, {
        method: 'POST',
        headers: authHeaders,
        body: dryRunBody,
      }),
      run: await warmUp(`${api.baseUrl}${getPath}`, { headers: authHeaders }),
    };

    const bodiesFile = path.join(tmp, 'bodies.json');
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    const bare = await startBare(bodiesFile);
    stops.push(bare.stop);
    const runPath = `/v1/orgs/${org.orgId}/deactivations/${(bodies.run as { id: string }).id}`;
    await warmUp(`${bare.baseUrl}${dryRunPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: dryRunBody,
    });
    await warmUp(`${bare.baseUrl}${runPath}`, {});

    const loads = await alternate(
      options.samples,
      async () => ({
        dryRun: await autocannon(`${api.baseUrl}${dryRunPath}`, {
          ...load,
          method: 'POST',
          headers,
          body: dryRunBody,
        }),
        get: await autocannon(`${api.baseUrl}${getPath}`, { ...load, method: 'GET', headers }),
      }),
      async () => ({
        dryRun: await autocannon(`${bare.baseUrl}${dryRunPath}`, {
          ...load,
          method: 'POST',
          headers,
          body: dryRunBody,
        }),
        get: await autocannon(`${bare.baseUrl}${runPath}`, { ...load, method: 'GET', headers }),
      }),
    );

    const raw = { ...load, samples: options.samples, ...loads };
    const figure = (
      side: 'offboard' | 'floor',
      endpoint: 'dryRun' | 'get',
      key: 'requestsPerSecond' | 'p99Ms',
    ): number[] => loads[side].map((sample) => sample[endpoint][key]);
    return {
      rows: [
        row(
          'API',
          'POST ?dryRun=true throughput',
          'req/s',
          figure('offboard', 'dryRun', 'requestsPerSecond'),
          figure('floor', 'dryRun', 'requestsPerSecond'),
          '>=',
          0.5,
        ),
        row(
          'API',
          'POST ?dryRun=true p99',
          'ms',
          figure('offboard', 'dryRun', 'p99Ms'),
          figure('floor', 'dryRun', 'p99Ms'),
          '<=',
          3,
        ),
        row(
          'API',
          'GET run throughput',
          'req/s',
          figure('offboard', 'get', 'requestsPerSecond'),
          figure('floor', 'get', 'requestsPerSecond'),
          '>=',
          0.5,
        ),
        row(
          'API',
          'GET run p99',
          'ms',
          figure('offboard', 'get', 'p99Ms'),
          figure('floor', 'get', 'p99Ms'),
          '<=',
          3,
        ),
      ],
      raw,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(tmp, { recursive: true, force: true });
    await deletePrefix(benchConfig.redisUrl, prefix);
    await store.drop();
  }
}
