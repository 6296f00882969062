/**
 * `npm run bench:table`: rewrites the benchmark table of README.md (between its markers) from
 * bench/results/latest.json, so the README shows exactly what the committed results file holds.
 * `--check`: changes nothing, exits 1 when the README's table is not the file's.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readmeBlock, replaceBlock, type BenchReport } from './support/results-table';

const root = path.join(__dirname, '..');

/**
 * README.md with its table rebuilt from `resultsFile` (and, when a `before.json` lies beside it,
 * a column of that earlier run's ratios); writes it unless `check`.
 */
export function writeReadmeTable(
  resultsFile = path.join(root, 'bench/results/latest.json'),
  readmeFile = path.join(root, 'README.md'),
  check = false,
): boolean {
  const report = JSON.parse(readFileSync(resultsFile, 'utf8')) as BenchReport;
  const beforeFile = path.join(path.dirname(resultsFile), 'before.json');
  const earlier = existsSync(beforeFile)
    ? (JSON.parse(readFileSync(beforeFile, 'utf8')) as BenchReport)
    : undefined;
  const current = readFileSync(readmeFile, 'utf8');
  const next = replaceBlock(current, readmeBlock(report, earlier));
  if (!check && next !== current) writeFileSync(readmeFile, next);
  return next === current;
}

if (require.main === module) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const current = writeReadmeTable(undefined, undefined, values.check);
  if (values.check) {
    process.stdout.write(
      current
        ? 'README.md: the benchmark table matches bench/results/latest.json\n'
        : 'README.md: the benchmark table differs from bench/results/latest.json (npm run bench:table)\n',
    );
    if (!current) process.exitCode = 1;
  } else {
    process.stdout.write(
      current
        ? 'README.md: the benchmark table was already current\n'
        : 'README.md: benchmark table rewritten from bench/results/latest.json\n',
    );
  }
}
