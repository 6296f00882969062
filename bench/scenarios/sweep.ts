import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { row, type Row } from '../support/common';

const root = path.join(__dirname, '../..');

/** What `bench/sweep-bench.ts --json` prints. */
export interface SweepRaw {
  users: number;
  matched: number;
  deactivated: number;
  sweepSeconds: number;
  usersPerSecond: number;
  workerPeakRssMb: number;
  floorSeconds: number;
  floorRuns: number;
  ratio: number;
}

/**
 * The existing sweep bench (a real worker process sweeps N users, 20 % dormant; the floor is the
 * plain driver doing the same selection and inserting the same run documents), as a child.
 */
export async function sweepScenario(options: {
  users: number;
}): Promise<{ rows: Row[]; raw: SweepRaw }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'bench/sweep-bench.ts'),
      '--users',
      String(options.users),
      '--json',
    ],
    { cwd: root, maxBuffer: 16 * 2 ** 20 },
  );
  const line = stdout
    .split('\n')
    .reverse()
    .find((text) => text.startsWith('{'));
  if (line === undefined) throw new Error(`sweep-bench printed no JSON:\n${stdout}`);
  const raw = JSON.parse(line) as SweepRaw;
  if (raw.deactivated !== raw.floorRuns) {
    throw new Error(`the sweep deactivated ${raw.deactivated}, the floor wrote ${raw.floorRuns}`);
  }
  return {
    rows: [
      row(
        'sweep',
        `${raw.users} users, ${raw.deactivated} dormant`,
        's',
        raw.sweepSeconds,
        raw.floorSeconds,
        '<=',
        1.5,
      ),
    ],
    raw,
  };
}
