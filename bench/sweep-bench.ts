/**
 * `npm run bench:sweep -- --users 100000 [--samples 1] [--dormant 0.2]`: the sweep scenario of
 * `npm run bench` (bench/scenarios/sweep.ts) at any size. Each sample seeds N users (20 %
 * dormant) in a fresh database and times one sweep through a real worker process; then, in a
 * second fresh database seeded the same way, the plain driver makes the sweep's selection and
 * issues its writes (insert the runs, switch each user). Both sides' writes are checked after
 * their timing. Prints the figures (wall time, users/s, the worker's peak RSS) as JSON.
 */
import { parseArgs } from 'node:util';
import { sweepScenario } from './scenarios/sweep';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    dormant: { type: 'string', default: '0.2' },
    samples: { type: 'string', default: '1' },
  },
});

async function main(): Promise<void> {
  const users = Number(values.users);
  const samples = Number(values.samples);
  const dormantShare = Number(values.dormant);
  if (!Number.isInteger(users) || users < 1) throw new Error('--users must be a positive integer');
  if (!Number.isInteger(samples) || samples < 1) {
    throw new Error('--samples must be a positive integer');
  }
  if (!(dormantShare > 0 && dormantShare <= 1)) throw new Error('--dormant must be in (0, 1]');
  const { rows, raw } = await sweepScenario({ users, samples, dormantShare });
  process.stdout.write(`${JSON.stringify({ ...raw, rows }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
