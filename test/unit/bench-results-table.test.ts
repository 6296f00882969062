import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  readmeBlock,
  replaceBlock,
  resultsTable,
  tableMarkers,
  type BenchReport,
} from '../../bench/support/results-table';
import { contextRow, row } from '../../bench/support/sampled-row';
import { writeReadmeTable } from '../../bench/write-readme-table';

const root = path.join(__dirname, '../..');

function sampleReport(): BenchReport {
  return {
    date: '2025-01-02T03:04:05.000Z',
    durationSeconds: 321.4,
    note: 'machine shared with other work',
    machine: {
      cpus: 2,
      cpuModel: 'Test CPU',
      memoryGb: 8,
      platform: 'linux 6.1',
      node: 'v20.19.0',
      loadAverage: { start: 1.25, end: 3 },
    },
    store: { mongo: 'localhost:27017', redis: 'localhost:6379' },
    sizes: { samples: 3 },
    rows: [
      row('throughput', '100 users, C=8', 'users/s', [8, 9, 7], [20, 20, 25], '>=', 0.8),
      row('sweep', '5000 users, 1000 dormant', 's', [10.4, 12], [2, 2], '<=', 1.5),
    ],
    failures: { api: 'Error: autocannon failed\n    at somewhere' },
  };
}

describe('row', () => {
  it('takes the median of the per-sample ratios and their spread, not a ratio of medians', () => {
    const r = row('throughput', 'm', 'users/s', [8, 9, 7], [20, 20, 25], '>=', 0.8);
    expect(r.ratios).toEqual([0.4, 0.45, 0.28]);
    expect(r).toMatchObject({
      offboard: 8,
      floor: 20,
      ratio: 0.4,
      ratioMin: 0.28,
      ratioMax: 0.45,
      samples: 3,
      met: false,
    });
  });

  it('judges `<=` rows by the median ratio and refuses unpaired samples', () => {
    expect(row('sweep', 'm', 's', [3, 2], [2, 2], '<=', 1.5)).toMatchObject({
      ratio: 1.25,
      met: true,
    });
    expect(() => row('sweep', 'm', 's', [3, 2], [2], '<=', 1.5)).toThrow(/2 offboard/);
  });
});

describe('the README table', () => {
  it('is generated from a results object: medians, ratio, spread, target, met', () => {
    expect(resultsTable(sampleReport().rows, true)).toBe(
      [
        '| scenario                        | offboard     | floor        | ratio | spread     | target | met |',
        '| ------------------------------- | ------------ | ------------ | ----- | ---------- | ------ | --- |',
        '| throughput: 100 users, C=8      | 8.00 users/s | 20.0 users/s | 0.40× | 0.28–0.45× | ≥ 0.8× | no  |',
        '| sweep: 5000 users, 1000 dormant | 11.2 s       | 2.00 s       | 5.60× | 5.20–6.00× | ≤ 1.5× | no  |',
      ].join('\n'),
    );
  });

  it('says where it was measured, carries the note and lists failed scenarios', () => {
    const block = readmeBlock(sampleReport());
    expect(block.split('\n')[0]).toBe(
      'Run of 2025-01-02 (2 × Test CPU, 8 GB, Node v20.19.0, linux 6.1, 1-minute load average 1.3 at the start and 3.0 at the end; store localhost:27017, Redis localhost:6379; 3 alternating samples per ratio; 321 s).',
    );
    expect(block).toContain('Note: machine shared with other work');
    expect(block).toContain('- api: failed (Error: autocannon failed)');
  });

  it("adds an earlier run's ratios as a column before, and marks context rows", () => {
    const earlier = sampleReport();
    const report = {
      ...sampleReport(),
      rows: [
        row('throughput', '100 users, C=8', 'users/s', [16], [20], '>=', 0.8),
        contextRow('API', 'GET run throughput, vs no store', 'req/s', [10], [100], '>='),
      ],
    };
    const block = readmeBlock(report, earlier);
    expect(block).toContain(
      'Column before: the ratios of bench/results/before.json, run of 2025-01-02, 1-minute load average 1.3 at the start and 3.0 at the end, 321 s (machine shared with other work).',
    );
    expect(block).toContain(
      '| throughput: 100 users, C=8           | 16.0 users/s | 20.0 users/s | 0.80× | 0.80–0.80× | 0.40×  | ≥ 0.8×  | yes |',
    );
    expect(block).toContain(
      '| API: GET run throughput, vs no store | 10.0 req/s   | 100 req/s    | 0.10× | 0.10–0.10× | —      | context | —   |',
    );
  });

  it('replaces only what lies between the markers, the same way every time', () => {
    const text = `# Title\n\nbefore\n\n${tableMarkers.start}\n\nold table\n\n${tableMarkers.end}\n\nafter\n`;
    const once = replaceBlock(text, 'new table');
    expect(once).toBe(
      `# Title\n\nbefore\n\n${tableMarkers.start}\n\nnew table\n\n${tableMarkers.end}\n\nafter\n`,
    );
    expect(replaceBlock(once, 'new table')).toBe(once);
    expect(() => replaceBlock('# no markers', 'x')).toThrow(/markers/);
  });

  it('rewrites a README from a results file, and reports a stale one in check mode', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-table-'));
    try {
      const results = path.join(dir, 'latest.json');
      const readme = path.join(dir, 'README.md');
      writeFileSync(results, JSON.stringify(sampleReport()));
      writeFileSync(readme, `# R\n\n${tableMarkers.start}\n\nstale\n\n${tableMarkers.end}\n`);
      expect(writeReadmeTable(results, readme, true)).toBe(false);
      expect(readFileSync(readme, 'utf8')).toContain('stale');
      expect(writeReadmeTable(results, readme)).toBe(false);
      expect(readFileSync(readme, 'utf8')).toContain('| throughput: 100 users, C=8');
      expect(writeReadmeTable(results, readme, true)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("in this repository's README is the one bench/results/latest.json gives", () => {
    const results = path.join(root, 'bench/results/latest.json');
    expect(existsSync(results)).toBe(true);
    expect(writeReadmeTable(results, path.join(root, 'README.md'), true)).toBe(true);
  });
});
