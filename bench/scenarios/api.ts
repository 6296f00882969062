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
import { contextRow, row, type Row } from '../support/sampled-row';
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

interface Loads {
  dryRun: Load;
  get: Load;
}

export interface ApiRaw {
  seconds: number;
  connections: number;
  samples: number;
  offboard: Loads[];
  /** The floor: bare Express issuing the same store reads with the driver. */
  floor: Loads[];
  /** Context: bare Express with no store at all. */
  noStore: Loads[];
}

/** A bare Express app (bench/support/bare-api.ts) in a process of its own, listening. */
async function startBare(
  bodiesFile: string,
  store: { url: string; dbName: string } | null,
): Promise<{ baseUrl: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const bare = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, '../support/bare-api.ts'),
      String(port),
      bodiesFile,
      ...(store ? ['store', store.url, store.dbName] : ['none']),
    ],
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
 * autocannon (a second process), against two bare Express apps (bench/support/bare-api.ts) with
 * the same body parsing and zod schemas answering the same bodies, each in a process of its own:
 * the floor issues the same store reads with the driver (key lookup, the reads the answer
 * needs); the other has no store (kept as context). Every process stays up for the whole
 * scenario; the loads alternate per sample: offboard, the floor, the no-store app.
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
    const floorApp = await startBare(bodiesFile, { url: store.url, dbName: store.dbName });
    stops.push(floorApp.stop);
    const noStoreApp = await startBare(bodiesFile, null);
    stops.push(noStoreApp.stop);
    const runPath = `/v1/orgs/${org.orgId}/deactivations/${(bodies.run as { id: string }).id}`;
    for (const bare of [floorApp, noStoreApp]) {
      await warmUp(`${bare.baseUrl}${dryRunPath}`, {
        method: 'POST',
        headers: authHeaders,
        body: dryRunBody,
      });
      await warmUp(`${bare.baseUrl}${runPath}`, { headers: authHeaders });
    }

    const measure = async (baseUrl: string, readPath: string): Promise<Loads> => ({
      dryRun: await autocannon(`${baseUrl}${dryRunPath}`, {
        ...load,
        method: 'POST',
        headers,
        body: dryRunBody,
      }),
      get: await autocannon(`${baseUrl}${readPath}`, { ...load, method: 'GET', headers }),
    });
    const loads = await alternate(
      options.samples,
      () => measure(api.baseUrl, getPath),
      async () => ({
        floor: await measure(floorApp.baseUrl, runPath),
        noStore: await measure(noStoreApp.baseUrl, runPath),
      }),
    );

    const raw: ApiRaw = {
      ...load,
      samples: options.samples,
      offboard: loads.offboard,
      floor: loads.floor.map((sample) => sample.floor),
      noStore: loads.floor.map((sample) => sample.noStore),
    };
    const figure = (
      side: 'offboard' | 'floor' | 'noStore',
      endpoint: 'dryRun' | 'get',
      key: 'requestsPerSecond' | 'p99Ms',
    ): number[] => raw[side].map((sample) => sample[endpoint][key]);
    const context = (endpoint: 'dryRun' | 'get', label: string): Row[] => [
      contextRow(
        'API',
        `${label} throughput, vs no store`,
        'req/s',
        figure('offboard', endpoint, 'requestsPerSecond'),
        figure('noStore', endpoint, 'requestsPerSecond'),
        '>=',
      ),
      contextRow(
        'API',
        `${label} p99, vs no store`,
        'ms',
        figure('offboard', endpoint, 'p99Ms'),
        figure('noStore', endpoint, 'p99Ms'),
        '<=',
      ),
    ];
    return {
      rows: [
        row(
          'API',
          'POST ?dryRun=true throughput',
          'req/s',
          figure('offboard', 'dryRun', 'requestsPerSecond'),
          figure('floor', 'dryRun', 'requestsPerSecond'),
          '>=',
          0.7,
        ),
        row(
          'API',
          'POST ?dryRun=true p99',
          'ms',
          figure('offboard', 'dryRun', 'p99Ms'),
          figure('floor', 'dryRun', 'p99Ms'),
          '<=',
          2,
        ),
        row(
          'API',
          'GET run throughput',
          'req/s',
          figure('offboard', 'get', 'requestsPerSecond'),
          figure('floor', 'get', 'requestsPerSecond'),
          '>=',
          0.7,
        ),
        row(
          'API',
          'GET run p99',
          'ms',
          figure('offboard', 'get', 'p99Ms'),
          figure('floor', 'get', 'p99Ms'),
          '<=',
          2,
        ),
        ...context('dryRun', 'POST ?dryRun=true'),
        ...context('get', 'GET run'),
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
