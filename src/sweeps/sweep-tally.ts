import type { SweepReport } from '../models/sweep-report.model';

/** What a sweep found and did, as its report stores it. */
export type SweepTally = Pick<
  SweepReport,
  'matched' | 'selected' | 'deactivated' | 'skippedByReason' | 'held' | 'maxPerRun'
>;

/**
 * The counts of a sweep by name: the API's report and the `sweep.*` webhooks show the same
 * ones, and naming them (rather than spreading the stored report) keeps a field added to the
 * report out of both until it is documented.
 */
export function sweepTally(sweep: SweepTally): SweepTally {
  return {
    matched: sweep.matched,
    selected: sweep.selected,
    deactivated: sweep.deactivated,
    skippedByReason: sweep.skippedByReason,
    held: sweep.held,
    maxPerRun: sweep.maxPerRun,
  };
}
