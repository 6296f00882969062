import { stepNames, type StepName } from '../domain/step-names';
import type { Models } from '../models/create-models';
import type { Deactivation } from '../models/deactivation.model';
import type { QueryFilter } from 'mongoose';

/**
 * The writes a step job makes to its record in the run document, as plain filter and update
 * documents, so that the benchmark floor (bench/support/floor-writes.ts) issues the very same
 * ones. All share one filter: a step already `completed` is never written again, so a late
 * duplicate of a step job cannot undo it.
 */
export function stepRecordWrites(runId: string, step: StepName) {
  const at = `steps.${stepNames.indexOf(step)}`;
  return {
    filter: { _id: runId, [`${at}.status`]: { $ne: 'completed' } },
    /**
     * Where a step job may start: the step is to run (neither completed nor skipped) and the run
     * is not completed (it completes only after every step, so this holds unless a step job is a
     * late duplicate).
     */
    startable: {
      _id: runId,
      [`${at}.status`]: { $in: ['pending', 'running', 'failed'] },
      status: { $ne: 'completed' },
    },
    /** The filter of a first attempt's completion: still the only attempt ever started. */
    soleAttempt: { _id: runId, [`${at}.status`]: { $ne: 'completed' }, [`${at}.attempts`]: 1 },
    /** The step is running, one more attempt; the run too, unless it already completed. */
    started: (runCompleted: boolean) => ({
      $set: { [`${at}.status`]: 'running', ...(runCompleted ? {} : { status: 'running' }) },
      $inc: { [`${at}.attempts`]: 1 },
    }),
    completed: (result: Record<string, unknown>, now: Date) => ({
      $set: {
        [`${at}.status`]: 'completed',
        [`${at}.result`]: result,
        [`${at}.error`]: null,
        [`${at}.completedAt`]: now,
      },
    }),
    /** A final failure fails the step and the run; any other sends the step back to pending. */
    failed: (message: string, final: boolean) => ({
      $set: {
        [`${at}.status`]: final ? 'failed' : 'pending',
        [`${at}.error`]: message,
        ...(final ? { status: 'failed' } : {}),
      },
    }),
  };
}

/** One step's record in one run: the step job's three writes (see {@link stepRecordWrites}). */
export interface RunStepRecord {
  markRunning: (runCompleted: boolean) => Promise<unknown>;
  /**
   * Marks the step running (one more attempt) where it may start, and returns the run as it was
   * just before: one round trip for the read and the write. Null when the step is completed or
   * skipped, the run completed, or there is no such run.
   */
  start: () => Promise<Deactivation | null>;
  /**
   * Records the result; with `soleAttempt`, only while this is the one attempt ever started.
   * True when it was recorded.
   */
  complete: (result: Record<string, unknown>, now: Date, soleAttempt?: boolean) => Promise<boolean>;
  fail: (message: string, final: boolean) => Promise<unknown>;
}

/** The repository of a run's step records, over the `deactivations` collection. */
export function runStepRecord(
  models: Pick<Models, 'deactivations'>,
  runId: string,
  step: StepName,
): RunStepRecord {
  const writes = stepRecordWrites(runId, step);
  const update = (change: object): Promise<unknown> =>
    models.deactivations.updateOne(writes.filter, change).exec();
  return {
    markRunning: (runCompleted) => update(writes.started(runCompleted)),
    start: () =>
      models.deactivations
        .findOneAndUpdate(writes.startable as QueryFilter<Deactivation>, writes.started(false), {
          returnDocument: 'before',
        })
        .lean<Deactivation>()
        .exec(),
    complete: async (result, now, soleAttempt = false) => {
      const done = await models.deactivations
        .updateOne(soleAttempt ? writes.soleAttempt : writes.filter, writes.completed(result, now))
        .exec();
      return done.modifiedCount === 1;
    },
    fail: (message, final) => update(writes.failed(message, final)),
  };
}
