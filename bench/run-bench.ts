/**
 * `npm run bench`: every scenario of the performance issue on the configured store and Redis,
 * each figure a ratio against a floor measured in the same run, on the same machine, store and
 * fixtures. Prints a table and writes bench/results/latest.json and a dated copy.
 *
 *   npm run bench -- --quick                 tiny sizes (a smoke run, not a measurement)
 *   npm run bench -- --only throughput,api   some scenarios only
 *   npm run bench -- --users 200 --concurrency 8 --latency-runs 7 --redis-runs 20
 *                    --api-seconds 10 --api-connections 10 --sweep-users 5000
 *   BENCH_CPU_PROF=dir npm run bench -- --only latency   --cpu-prof of the API and worker
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { apiScenario } from './scenarios/api';
import { latencyScenario, throughputScenario } from './scenarios/deactivation';
import { redisCostScenario } from './scenarios/redis-cost';
import { sweepScenario } from './scenarios/sweep';
import { webhookCostScenario } from './scenarios/webhooks';
import { benchConfig, type Row } from './support/common';
import { largeUser, smallUser } from './support/fixtures';

const scenarios = ['throughput', 'latency', 'redis', 'api', 'sweep', 'webhooks'] as const;
type Scenario = (typeof scenarios)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    users: { type: 'string' },
    concurrency: { type: 'string' },
    'latency-runs': { type: 'string' },
    'redis-runs': { type: 'string' },
    'api-seconds': { type: 'string' },
    'api-connections': { type: 'string' },
    'sweep-users': { type: 'string' },
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
  users: positiveInt('users', values.users, quick ? 10 : 100),
  concurrency: positiveInt('concurrency', values.concurrency, quick ? 4 : 8),
  latencyRuns: positiveInt('latency-runs', values['latency-runs'], quick ? 1 : 5),
  redisRuns: positiveInt('redis-runs', values['redis-runs'], quick ? 5 : 20),
  apiSeconds: positiveInt('api-seconds', values['api-seconds'], quick ? 2 : 10),
  apiConnections: positiveInt('api-connections', values['api-connections'], 10),
  sweepUsers: positiveInt('sweep-users', values['sweep-users'], quick ? 500 : 5_000),
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

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

/** The table, as plain text and as markdown (for the README's Performance section). */
function table(rows: Row[], markdown: boolean): string {
  const header = ['scenario', 'offboard', 'floor', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    `${r.scenario}: ${r.metric}`,
    `${formatNumber(r.offboard)} ${r.unit}`,
    `${formatNumber(r.floor)} ${r.unit}`,
    `${r.ratio.toFixed(2)}×`,
    `${r.direction === '>=' ? '≥' : '≤'} ${r.target}×`,
    r.met ? 'yes' : 'no',
  ]);
  if (markdown) {
    return [header, header.map(() => '---'), ...lines]
      .map((cells) => `| ${cells.join(' | ')} |`)
      .join('\n');
  }
  const widths = header.map((_, i) =>
    Math.max(...[header, ...lines].map((cells) => (cells[i] ?? '').length)),
  );
  const format = (cells: string[]): string =>
    cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ');
  return [format(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...lines.map(format)].join(
    '\n',
  );
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
            size: smallUser,
            cpuProfDir,
          });
          break;
        case 'latency':
          result = await latencyScenario({ runs: sizes.latencyRuns, size: largeUser, cpuProfDir });
          break;
        case 'redis':
          result = await redisCostScenario({
            runs: sizes.redisRuns,
            concurrency: sizes.concurrency,
            size: smallUser,
          });
          break;
        case 'api':
          result = await apiScenario({
            seconds: sizes.apiSeconds,
            connections: sizes.apiConnections,
            cpuProfDir,
          });
          break;
        case 'sweep':
          result = await sweepScenario({ users: sizes.sweepUsers });
          break;
        case 'webhooks':
          result = await webhookCostScenario({
            runs: sizes.redisRuns,
            concurrency: sizes.concurrency,
            size: smallUser,
          });
          break;
      }
      rows.push(...result.rows);
      raw[scenario] = result.raw;
      for (const r of result.rows) log(`  ${r.metric}: ${r.ratio}× (${r.met ? 'met' : 'missed'})`);
    } catch (error) {
      failures[scenario] = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${scenario} failed: ${failures[scenario]}`);
    }
    log(`${scenario} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }

  const mongo = new URL(benchConfig.mongoUrl);
  const redis = new URL(benchConfig.redisUrl);
  const report = {
    date: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
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
  writeFileSync(path.join(dir, 'latest.json'), json);
  writeFileSync(path.join(dir, `${report.date.replace(/:/g, '-')}.json`), json);

  process.stdout.write(`\n${table(rows, false)}\n\n`);
  process.stdout.write(`markdown:\n\n${table(rows, true)}\n\n`);
  for (const [scenario, message] of Object.entries(failures)) {
    process.stdout.write(`${scenario}: FAILED (${message.split('\n')[0] ?? ''})\n`);
  }
  process.stdout.write(
    `written: bench/results/latest.json and bench/results/${report.date.replace(/:/g, '-')}.json\n`,
  );
  if (Object.keys(failures).length > 0) process.exitCode = 1;
}

void main();
