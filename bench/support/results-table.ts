import type { Row } from './sampled-row';

/** What `npm run bench` writes to bench/results/latest.json (the fields the table reads). */
export interface BenchReport {
  date: string;
  durationSeconds: number;
  /** Free text given with `--note` (say, that the machine was shared). */
  note?: string | null;
  machine: {
    cpus: number;
    cpuModel: string | null;
    memoryGb: number;
    platform: string;
    node: string;
    /** 1-minute load average when the run started and ended. */
    loadAverage?: { start: number; end: number };
  };
  store: { mongo: string; redis: string };
  sizes: { samples: number } & Record<string, unknown>;
  rows: Row[];
  failures: Record<string, string>;
}

/** Where the README's generated block starts and ends. */
export const tableMarkers = {
  start:
    '<!-- bench-table:start (npm run bench:table writes this from bench/results/latest.json) -->',
  end: '<!-- bench-table:end -->',
} as const;

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}

const header = ['scenario', 'offboard', 'floor', 'ratio', 'spread', 'target', 'met'];

/** The ratio the same row had in `before`, or a dash when it had no such row. */
function beforeCell(r: Row, before: Row[]): string {
  const old = before.find((b) => b.scenario === r.scenario && b.metric === r.metric);
  return old ? `${old.ratio.toFixed(2)}×` : '—';
}

function cells(r: Row, before: Row[] | undefined): string[] {
  return [
    `${r.scenario}: ${r.metric}`,
    `${formatNumber(r.offboard)} ${r.unit}`,
    `${formatNumber(r.floor)} ${r.unit}`,
    `${r.ratio.toFixed(2)}×`,
    `${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)}×`,
    ...(before ? [beforeCell(r, before)] : []),
    r.context === true ? 'context' : `${r.direction === '>=' ? '≥' : '≤'} ${r.target}×`,
    r.context === true ? '—' : r.met ? 'yes' : 'no',
  ];
}

/**
 * The rows as a table: plain text for the terminal, or markdown padded the way prettier pads
 * it (so the README stays `prettier --check` clean). offboard and floor are the medians of their
 * samples, ratio the median of the per-sample ratios, spread their smallest–largest; with
 * `before`, a column of each row's ratio in that earlier run.
 */
export function resultsTable(rows: Row[], markdown: boolean, before?: Row[]): string {
  const lines = rows.map((r) => cells(r, before));
  const columns = before ? [...header.slice(0, 5), 'before', ...header.slice(5)] : header;
  const widths = columns.map((_, i) =>
    Math.max(markdown ? 3 : 0, ...[columns, ...lines].map((line) => (line[i] ?? '').length)),
  );
  const pad = (line: string[]): string[] => line.map((cell, i) => cell.padEnd(widths[i] ?? 0));
  if (markdown) {
    return [pad(columns), widths.map((w) => '-'.repeat(w)), ...lines.map(pad)]
      .map((line) => `| ${line.join(' | ')} |`)
      .join('\n');
  }
  return [
    pad(columns).join(' | '),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...lines.map((line) => pad(line).join(' | ')),
  ]
    .map((line) => line.trimEnd())
    .join('\n');
}

function loadText(machine: BenchReport['machine']): string {
  return machine.loadAverage
    ? `, 1-minute load average ${machine.loadAverage.start.toFixed(1)} at the start and ${machine.loadAverage.end.toFixed(1)} at the end`
    : '';
}

/**
 * The README's generated block: where and how the figures were measured, the table, failures;
 * with `before` (an earlier run's results), a column of its ratios and a line saying which run.
 */
export function readmeBlock(report: BenchReport, before?: BenchReport): string {
  const { machine } = report;
  const samples = report.sizes.samples;
  const lines = [
    `Run of ${report.date.slice(0, 10)} (${machine.cpus} × ${machine.cpuModel ?? 'unknown CPU'}, ` +
      `${machine.memoryGb} GB, Node ${machine.node}, ${machine.platform}${loadText(machine)}; ` +
      `store ${report.store.mongo}, Redis ${report.store.redis}; ` +
      `${samples} alternating sample${samples === 1 ? '' : 's'} per ratio; ` +
      `${Math.round(report.durationSeconds)} s).`,
  ];
  if (report.note) lines.push('', `Note: ${report.note}`);
  if (before) {
    lines.push(
      '',
      `Column before: the ratios of bench/results/before.json, run of ${before.date.slice(0, 10)}` +
        `${loadText(before.machine)}, ${Math.round(before.durationSeconds)} s` +
        `${before.note ? ` (${before.note})` : ''}.`,
    );
  }
  lines.push('', resultsTable(report.rows, true, before?.rows));
  const failed = Object.entries(report.failures);
  if (failed.length > 0) {
    lines.push(
      '',
      ...failed.map(
        ([scenario, message]) => `- ${scenario}: failed (${message.split('\n')[0] ?? ''})`,
      ),
    );
  }
  return lines.join('\n');
}

/** `text` with the block between the markers replaced; throws when the markers are missing. */
export function replaceBlock(text: string, block: string): string {
  const start = text.indexOf(tableMarkers.start);
  const end = text.indexOf(tableMarkers.end);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`the markers ${tableMarkers.start} … ${tableMarkers.end} are missing`);
  }
  return `${text.slice(0, start + tableMarkers.start.length)}\n\n${block}\n\n${text.slice(end)}`;
}
