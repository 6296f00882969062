import type { FlowJob, FlowJobNode, FlowProducer, JobsOptions } from 'bullmq';
import { stepNames, type Deactivation } from '../models/deactivation.model';
import { runJobId, stepJobId } from './job-ids';
import { queueNames } from './queue-names';

/** What a deactivation job carries: ids only, never personal data. */
export interface RunJobData {
  runId: string;
  orgId: string;
  userId: string;
  /** The id of the API request that accepted the run, so its logs can be followed. */
  requestId?: string;
}

/** A step job's data: the run's ids and which step. */
export interface StepJobData extends RunJobData {
  step: (typeof stepNames)[number];
}

// Completed jobs are kept briefly for the dashboard; failed ones much longer, for operators.
const retention: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: 24 * 60 * 60, count: 1_000 },
  removeOnFail: { age: 14 * 24 * 60 * 60, count: 10_000 },
};

/** Step jobs retry with exponential backoff and jitter: ~1 s, 2 s, 4 s … for about 4 minutes. */
export const stepJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
  ...retention,
};

const runJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
  ...retention,
};

/**
 * The BullMQ flow of a run: a parent job over a chain of its applicable steps, in contract
 * order (revoke-tokens is the deepest child and runs first).
 *
 * The steps could run in parallel (each works from the plan alone), but each writes its record
 * into the run document, and FerretDB v1 applies concurrent updates to one document as
 * read-modify-write without locking: parallel steps would silently overwrite each other's
 * records. The chain keeps one writer per run document at a time.
 */
export function runFlow(
  run: Pick<Deactivation, '_id' | 'orgId' | 'userId' | 'plan'>,
  requestId?: string,
): FlowJob {
  const data: RunJobData = {
    runId: run._id,
    orgId: run.orgId,
    userId: run.userId,
    ...(requestId === undefined ? {} : { requestId }),
  };
  let chain: FlowJobNode | undefined;
  for (const step of stepNames.filter((name) => run.plan.steps[name])) {
    chain = {
      name: `${step} ${run.userId}`,
      queueName: queueNames.steps,
      data: { ...data, step } satisfies StepJobData,
      opts: { ...stepJobOptions, jobId: stepJobId(run._id, step) },
      ...(chain ? { children: [chain] } : {}),
    };
  }
  return {
    name: `deactivate ${run.userId}`,
    queueName: queueNames.runs,
    data,
    opts: { ...runJobOptions, jobId: runJobId(run._id) },
    children: chain ? [chain] : [],
  };
}

/** Adds the run's flow; adding a run that is already queued adds nothing. */
export async function enqueueRun(
  flows: FlowProducer,
  run: Pick<Deactivation, '_id' | 'orgId' | 'userId' | 'plan'>,
  requestId?: string,
): Promise<void> {
  await flows.add(runFlow(run, requestId));
}

/** Adds many runs' flows in one round trip. */
export async function enqueueRuns(
  flows: FlowProducer,
  runs: Pick<Deactivation, '_id' | 'orgId' | 'userId' | 'plan'>[],
): Promise<void> {
  if (runs.length > 0) await flows.addBulk(runs.map((run) => runFlow(run)));
}
