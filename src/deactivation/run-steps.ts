import { stepNames, type StepName } from '../domain/step-names';
import type { Models } from '../models/create-models';

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
  complete: (result: Record<string, unknown>, now: Date) => Promise<unknown>;
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
    complete: (result, now) => update(writes.completed(result, now)),
    fail: (message, final) => update(writes.failed(message, final)),
  };
}
