/**
 * `npm run drills [-- --runs 2000] [--only storm,redis-restart]`: real processes, real faults.
 * Each drill prints one line (`faults` as hit/injected: faults that landed while runs were in
 * flight, of all injected); the command exits 1 when any run was lost or any side effect was
 * applied twice, when the API answered a 5xx other than 503, or when a drill failed on its own
 * terms (no fault hit a run in flight, a wipe that was not one, jobs left unsettled).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config';
import { clusterFailover } from './cluster-drill';
import {
  flakyNetwork,
  operatorRetries,
  redisFull,
  redisFlush,
  redisRestart,
  storeOutage,
  workerKillStorm,
  type DrillContext,
  type DrillReport,
} from './drills';
import { webhookReceiverDown } from './webhook-receiver-down';

const drills = {
  storm: workerKillStorm,
  'redis-restart': redisRestart,
  'redis-flush': redisFlush,
  'store-outage': storeOutage,
  'flaky-network': flakyNetwork,
  'redis-full': redisFull,
  'operator-retries': operatorRetries,
  'webhook-receiver-down': webhookReceiverDown,
  cluster: clusterFailover,
} as const;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    only: { type: 'string' },
    'output-dir': { type: 'string' },
  },
});

const header = ['drill', 'runs', 'faults', 'completed', 'lost', 'duplicated', '5xx', '503s', 's'];

function row(report: DrillReport): string[] {
  return [
    report.drill,
    String(report.runs),
    `${report.faults}/${report.injected}`,
    String(report.completed),
    String(report.lost),
    String(report.duplicated),
    String(report.serverErrors),
    String(report.unavailable),
    String(report.seconds),
  ];
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const runs = Number(values.runs);
  // The cluster drill starts six more redis-servers and waits on failovers: by name only
  // (`--only cluster`), not in the default set `.ci/run` runs.
  const names = (values.only?.split(',') ??
    Object.keys(drills).filter((name) => name !== 'cluster')) as (keyof typeof drills)[];
  const unknown = names.filter((name) => !(name in drills));
  if (unknown.length > 0) throw new Error(`unknown drills: ${unknown.join(', ')}`);
  const context: DrillContext = {
    runs,
    mongoUrl: config.mongoUrl,
    log: (line) => process.stderr.write(`${line}\n`),
    ...(values['output-dir'] === undefined ? {} : { outputDir: values['output-dir'] }),
  };
  console.log(header.join(' | '));
  const reports: DrillReport[] = [];
  for (const name of names) {
    const report = await drills[name](context);
    reports.push(report);
    console.log(row(report).join(' | '));
  }
  const dir = path.join(__dirname, '../bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'drills-latest.json'),
    JSON.stringify({ date: new Date(), reports }, null, 2),
  );
  const bad = reports.filter(
    (report) =>
      report.lost > 0 ||
      report.duplicated > 0 ||
      report.serverErrors > 0 ||
      report.failures.length > 0,
  );
  console.log(
    bad.length === 0
      ? 'drills: every fault hit runs in flight; nothing lost, nothing duplicated'
      : `drills: ${bad.length} failed`,
  );
  process.exit(bad.length === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
