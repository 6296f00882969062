/**
 * One comparison of the table: offboard against its floor, measured in the same run as
 * alternating samples (offboard, floor, offboard, …); each sample pair gives one ratio.
 */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  /** Median of offboard's samples. */
  offboard: number;
  /** Median of the floor's samples. */
  floor: number;
  /** Median of the per-sample ratios offboard ÷ floor. */
  ratio: number;
  /** The smallest and largest per-sample ratio: the spread between samples. */
  ratioMin: number;
  ratioMax: number;
  /** Each sample pair's ratio, in the order measured. */
  ratios: number[];
  samples: number;
  /** `>=` for figures where more is better (throughput), `<=` for costs and times. */
  direction: '>=' | '<=';
  target: number;
  /** Whether the median ratio meets the target. */
  met: boolean;
  /** A figure kept for context (no target of the issue): `target` and `met` mean nothing. */
  context?: boolean;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * A row from paired samples: `offboard[i]` and `floor[i]` were measured one after the other.
 * The ratio is the median of the pairs' ratios, so one noisy pair moves it little.
 */
export function row(
  scenario: string,
  metric: string,
  unit: string,
  offboard: number[],
  floor: number[],
  direction: '>=' | '<=',
  target: number,
): Row {
  if (offboard.length === 0 || offboard.length !== floor.length) {
    throw new Error(
      `${scenario}: ${offboard.length} offboard sample(s) against ${floor.length} floor sample(s)`,
    );
  }
  const ratios = offboard.map((value, i) => {
    const base = floor[i] ?? 0;
    return base === 0 ? Number.POSITIVE_INFINITY : value / base;
  });
  const ratio = median(ratios);
  return {
    scenario,
    metric,
    unit,
    offboard: round(median(offboard)),
    floor: round(median(floor)),
    ratio: round(ratio, 3),
    ratioMin: round(Math.min(...ratios), 3),
    ratioMax: round(Math.max(...ratios), 3),
    ratios: ratios.map((r) => round(r, 3)),
    samples: ratios.length,
    direction,
    target,
    met: direction === '>=' ? ratio >= target : ratio <= target,
  };
}

/** A row kept for context only, against a floor the issue sets no target for. */
export function contextRow(
  scenario: string,
  metric: string,
  unit: string,
  offboard: number[],
  floor: number[],
  direction: '>=' | '<=',
): Row {
  return {
    ...row(scenario, metric, unit, offboard, floor, direction, 0),
    met: true,
    context: true,
  };
}
