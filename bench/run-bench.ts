/**
 * `npm run bench`: every scenario of the performance issue on the configured store and Redis,
 * each figure a ratio against a floor measured in the same run, on the same machine, store and
 * fixtures, from `--samples` alternating samples (offboard, floor, offboard, …): the ratio is
 * the median of the per-sample ratios, with their spread. Prints a table and writes
 * bench/results/<date-time>.json; a full run (every scenario, not --quick) also writes
 * bench/results/latest.json and rewrites README.md's table from it.
 *
 *   npm run bench -- --quick                 tiny sizes (a smoke run, not a measurement)
 *   npm run bench -- --only throughput,api   some scenarios only
 *   npm run bench -- --samples 5 --users 200 --concurrency 8 --latency-runs 7 --redis-runs 20
 *                    --api-seconds 10 --api-connections 10 --sweep-users 5000 --sweep-large 100000
 *   npm run bench -- --note "machine shared with other work"   kept in the results and README
 *   BENCH_CPU_PROF=dir npm run bench -- --only latency   --cpu-prof of the API and worker
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { apiScenario } from './scenarios/api';
import { latencyScenario, throughputScenario } from './scenarios/deactivation';
import { redisCostScenario } from './scenarios/redis-cost';
import { scaleOutScenario } from './scenarios/scale-out';
import { sweepScenarios } from './scenarios/sweep';
import { webhookCostScenario } from './scenarios/webhooks';
import { benchConfig } from './support/common';
import type { Row } from './support/sampled-row';
import { largeUser, smallUser } from './support/fixtures';
import { resultsTable, type BenchReport } from './support/results-table';
import { writeReadmeTable } from './write-readme-table';

const scenarios = [
  'throughput',
  'latency',
  'redis',
  'api',
  'sweep',
  'webhooks',
  'scale-out',
] as const;
type Scenario = (typeof scenarios)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    samples: { type: 'string' },
    note: { type: 'string' },
    users: { type: 'string' },
    concurrency: { type: 'string' },
    'latency-runs': { type: 'string' },
    'redis-runs': { type: 'string' },
    'api-seconds': { type: 'string' },
    'api-connections': { type: 'string' },
    'sweep-users': { type: 'string' },
    'sweep-large': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new Error(`--${name} must be a positive integer`);
  return parsed;
}

const quick = values.quick;
const sizes = {
  samples: positiveInt('samples', values.samples, quick ? 2 : 3),
  users: positiveInt('users', values.users, quick ? 10 : 100),
  concurrency: positiveInt('concurrency', values.concurrency, quick ? 4 : 8),
  latencyRuns: positiveInt('latency-runs', values['latency-runs'], quick ? 1 : 5),
  redisRuns: positiveInt('redis-runs', values['redis-runs'], quick ? 5 : 20),
  apiSeconds: positiveInt('api-seconds', values['api-seconds'], quick ? 2 : 10),
  apiConnections: positiveInt('api-connections', values['api-connections'], 10),
  sweepUsers: positiveInt('sweep-users', values['sweep-users'], quick ? 500 : 5_000),
  // A larger sweep, one sample, for the worker's peak RSS at two sizes; off unless asked (on a
  // shared 2-core FerretDB, 100,000 users took more than 30 minutes).
  sweepLarge:
    values['sweep-large'] === undefined || values['sweep-large'] === '0'
      ? 0
      : positiveInt('sweep-large', values['sweep-large'], 0),
  smallUser,
  largeUser,
};

function selected(): Scenario[] {
  if (values.only === undefined) return [...scenarios];
  const wanted = values.only.split(',').map((name) => name.trim());
  const unknown = wanted.filter((name) => !(scenarios as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(
      `--only: unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.join(', ')}`,
    );
  return scenarios.filter((name) => wanted.includes(name));
}

async function main(): Promise<void> {
  if (values.help) {
    process.stdout.write(
      `scenarios: ${scenarios.join(', ')}; see the header of bench/run-bench.ts\n`,
    );
    return;
  }
  const chosen = selected();
  const cpuProfDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null;
  const started = new Date();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const failures: Record<string, string> = {};
  const log = (line: string): void => {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  for (const scenario of chosen) {
    log(`${scenario}…`);
    const t0 = performance.now();
    try {
      let result: { rows: Row[]; raw: unknown };
      switch (scenario) {
        case 'throughput':
          result = await throughputScenario({
            users: sizes.users,
            concurrency: sizes.concurrency,
            samples: sizes.samples,
            size: smallUser,
            cpuProfDir,
            log,
          });
          break;
        case 'latency':
          result = await latencyScenario({
            runs: sizes.latencyRuns,
            samples: sizes.samples,
            size: largeUser,
            cpuProfDir,
          });
          break;
        case 'redis':
          result = await redisCostScenario({
            runs: sizes.redisRuns,
            concurrency: sizes.concurrency,
            samples: sizes.samples,
            size: smallUser,
          });
          break;
        case 'api':
          result = await apiScenario({
            seconds: sizes.apiSeconds,
            connections: sizes.apiConnections,
            samples: sizes.samples,
            cpuProfDir,
          });
          break;
        case 'sweep':
          result = await sweepScenarios(sizes.sweepUsers, sizes.sweepLarge, sizes.samples, log);
          break;
        case 'webhooks':
          result = await webhookCostScenario({
            runs: sizes.redisRuns,
            concurrency: sizes.concurrency,
            samples: sizes.samples,
            size: smallUser,
          });
          break;
        case 'scale-out':
          result = await scaleOutScenario({
            users: sizes.users,
            concurrency: sizes.concurrency,
            samples: sizes.samples,
            size: smallUser,
          });
          break;
      }
      rows.push(...result.rows);
      raw[scenario] = result.raw;
      for (const r of result.rows) {
        log(
          `  ${r.metric}: ${r.ratio}× (${r.ratioMin}–${r.ratioMax}, ${r.samples} samples; ${r.met ? 'met' : 'missed'})`,
        );
      }
    } catch (error) {
      failures[scenario] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${scenario} failed: ${failures[scenario]}`);
    }
    log(`${scenario} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }

  const mongo = new URL(benchConfig.mongoUrl);
  const redis = new URL(benchConfig.redisUrl);
  const report: BenchReport & Record<string, unknown> = {
    date: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    note: values.note ?? null,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
    },
    // Hosts only: a URL may carry credentials.
    store: { mongo: mongo.host, redis: redis.host },
    sizes,
    scenarios: chosen,
    rows,
    raw,
    failures,
    allMet: rows.every((r) => r.met) && Object.keys(failures).length === 0,
  };
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const dated = `${report.date.replace(/:/g, '-')}.json`;
  writeFileSync(path.join(dir, dated), json);
  const written = [`bench/results/${dated}`];
  // Only a full run is the README's: a smoke run or a subset would replace its figures.
  const full = !quick && values.only === undefined;
  if (full) {
    writeFileSync(path.join(dir, 'latest.json'), json);
    writeReadmeTable();
    written.push('bench/results/latest.json', "README.md's table");
  }

  process.stdout.write(`\n${resultsTable(rows, false)}\n\n`);
  for (const [scenario, message] of Object.entries(failures)) {
    process.stdout.write(`${scenario}: FAILED (${message.split('\n')[0] ?? ''})\n`);
  }
  process.stdout.write(`written: ${written.join(', ')}\n`);
  if (Object.keys(failures).length > 0) process.exitCode = 1;
}

void main();
