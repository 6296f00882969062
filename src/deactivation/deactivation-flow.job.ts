import { DelayedError, type FlowJob, type FlowJobNode, type FlowProducer, type Job } from 'bullmq';
import { stepNames, type StepName } from '../domain/step-names';
import { AppError } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
import type { KeyedLock } from '../infra/redis-lock';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import type { Deactivation } from '../models/deactivation.model';
import { runJobId, stepJobId } from '../queues/job-ids';
import type { RunJobData, StepJobData } from '../queues/job-kinds';
import { jobOptions } from '../queues/job-options';
import { failureText, isLastAttempt } from '../queues/last-attempt';
import { queueNames } from '../queues/queue-names';
import { insertIgnoringDuplicates } from '../store/duplicate-key';
import { recordRunFinished } from '../webhooks/webhook-facts';
import { runStepRecord, type RunStepRecord } from './run-steps';
import { blocklistEmail } from './steps/blocklist-email.step';
import { cancelSubscriptions } from './steps/cancel-subscriptions.step';
import { describeStepResult } from './steps/describe-step-result';
import { removeFromTeams } from './steps/remove-from-teams.step';
import { revokeTokens } from './steps/revoke-tokens.step';
import type { Step, StepInput } from './steps/step';
import { transferOpportunities } from './steps/transfer-opportunities.step';

// The flow of one deactivation run, in one module: how it is built and added (runFlow,
// enqueueRuns), its step jobs (runStepJob, through stepTable) and its parent (completeRunJob).

/** What a run's flow is built from. */
type QueuedRun = Pick<Deactivation, '_id' | 'orgId' | 'userId' | 'plan'>;

/** Every step by its contract name; a missing one is a type error. */
export const stepTable: Record<StepName, Step> = {
  'revoke-tokens': revokeTokens,
  'cancel-subscriptions': cancelSubscriptions,
  'transfer-opportunities': transferOpportunities,
  'remove-from-teams': removeFromTeams,
  'blocklist-email': blocklistEmail,
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
export function runFlow(run: QueuedRun, requestId?: string): FlowJob {
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
      opts: { ...jobOptions[queueNames.steps], jobId: stepJobId(run._id, step) },
      ...(chain ? { children: [chain] } : {}),
    };
  }
  return {
    name: `deactivate ${run.userId}`,
    queueName: queueNames.runs,
    data,
    opts: { ...jobOptions[queueNames.runs], jobId: runJobId(run._id) },
    children: chain ? [chain] : [],
  };
}

/** Adds the run's flow; adding a run that is already queued adds nothing. */
export async function enqueueRun(
  flows: FlowProducer,
  run: QueuedRun,
  requestId?: string,
): Promise<void> {
  await flows.add(runFlow(run, requestId));
}

/** Adds many runs' flows in one round trip. */
export async function enqueueRuns(
  flows: FlowProducer,
  runs: QueuedRun[],
  requestId?: string,
): Promise<void> {
  if (runs.length > 0) await flows.addBulk(runs.map((run) => runFlow(run, requestId)));
}

/** What a step job needs. */
export interface StepJobDeps {
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
  locks: KeyedLock;
}

/**
 * The step job: runs one step of a run and mirrors it in the run's `steps` record (attempts,
 * result, error, completion). A step already completed returns its stored result without
 * touching anything, so a retry or a re-queued flow never repeats finished work.
 *
 * Round trips: marking the step running returns the run as it was (its plan, the step's earlier
 * attempts), with the user read alongside; then the step's own write; then the result. A first
 * attempt (no attempt recorded before) reports what its write modified, and its result is
 * recorded only while it is still the one attempt ever started; otherwise, and on every later
 * attempt, the step counts this run's documents, so a re-run reports the same numbers.
 */
export async function runStepJob(job: Job<StepJobData>, deps: StepJobDeps): Promise<unknown> {
  const { models, metrics } = deps;
  const { runId, orgId, userId, step } = job.data;
  const record = runStepRecord(models, runId, step);
  const timer = metrics.stepDuration.startTimer({ step });
  try {
    const [run, user] = await Promise.all([
      record.start(),
      models.users.findOne({ _id: userId, orgId }).lean(),
    ]);
    if (!run) return await finishedStep(models, runId, step);
    const input: StepInput = {
      runId,
      orgId: run.orgId,
      userId: run.userId,
      actorId: run.actorId,
      plan: run.plan,
      // Only while the user is still inactive under this run: after a reactivation (or
      // erasure) an old run's retried step changes nothing.
      apply: user?.status === 'inactive' && user.deactivationId === runId,
      firstAttempt: (run.steps[stepNames.indexOf(step)]?.attempts ?? 0) === 0,
      email: user?.email ?? null,
      now: new Date(),
    };
    let result = await stepTable[step](input, { models, locks: deps.locks });
    const recorded = await record.complete(result, new Date(), input.firstAttempt);
    if (input.firstAttempt === true && !recorded) {
      // Another attempt started meanwhile (a stalled job's duplicate): what this one modified
      // may be only part of the run's, so count them and record that, as any later attempt.
      result = await stepTable[step](
        { ...input, firstAttempt: false },
        { models, locks: deps.locks },
      );
      await record.complete(result, new Date());
    }
    timer({ outcome: 'completed' });
    return reportCompleted(job, result, deps.logger);
  } catch (error) {
    timer({ outcome: 'failed' });
    await recordFailure(job, error, record, deps);
    throw error;
  }
}

/**
 * What a completed step job returns, and the dashboard shows as its return value: the step's
 * result and one readable line of what it changed.
 */
export interface StepJobOutcome {
  summary: string;
  result: Record<string, unknown>;
}

/** A step that may not start: its stored outcome when completed, null when skipped. */
async function finishedStep(
  models: Models,
  runId: string,
  step: StepName,
): Promise<StepJobOutcome | null> {
  const run = await models.deactivations.findById(runId).lean();
  if (!run) throw new AppError('run_not_found', `Run ${runId} does not exist`);
  const stored = run.steps[stepNames.indexOf(step)];
  if (stored?.status !== 'completed' || stored.result === null) return null;
  return { summary: describeStepResult(step, stored.result), result: stored.result };
}

/**
 * One log line of what changed; the same line goes back to BullMQ with the result, as the job's
 * return value, which the dashboard shows. Neither progress nor a job log line: BullMQ stores the
 * return value with the completion it writes anyway, where a log line costs 3 Redis commands
 * and a key per job, and a progress of 100 five commands, for nothing the dashboard would not
 * already show.
 */
function reportCompleted(
  job: Job<StepJobData>,
  result: Record<string, unknown>,
  logger: Logger,
): StepJobOutcome {
  const { runId, requestId, step } = job.data;
  const summary = describeStepResult(step, result);
  logger.info(
    { runId, requestId, step, result, attempt: job.attemptsMade + 1 },
    `step completed: ${summary}`,
  );
  return { summary, result };
}

/**
 * Records a failed attempt on the step (and fails the run on the last one), counts it and logs
 * it. The error itself is the caller's to rethrow for BullMQ.
 */
async function recordFailure(
  job: Job<StepJobData>,
  error: unknown,
  record: RunStepRecord,
  deps: StepJobDeps,
): Promise<void> {
  const { logger, metrics } = deps;
  const { runId, requestId, step } = job.data;
  const appError = toAppError(error);
  const final = isLastAttempt(job, appError);
  const message = failureText(error);
  await record.fail(message, final).catch((recordError: unknown) => {
    // The store may be what failed; BullMQ's retry will record the next attempt.
    logger.warn({ runId, step, err: recordError }, 'could not record the step failure');
  });
  metrics.stepFailures.inc({ step, code: appError.code });
  if (final) metrics.runs.inc({ status: 'failed' });
  if (final) {
    await recordRunFinished(deps.models, runId).catch((recordError: unknown) => {
      logger.warn({ runId, err: recordError }, 'could not record deactivation.failed');
    });
  }
  logger.warn(
    { runId, requestId, step, code: appError.code, final, attempt: job.attemptsMade + 1 },
    'step failed',
  );
  await job
    .log(`attempt ${job.attemptsMade + 1} failed${final ? ' (final)' : ''}: ${message}`)
    .catch(() => undefined);
}

/** What the parent job needs. */
export interface RunJobDeps {
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
}

/** How often the parent job may start and find steps unfinished before that counts as failing. */
const maxStartsWaiting = 20;

/** The wait before the parent looks again: 1 s, doubling with each start, at most 30 s. */
function waitBeforeNextLook(starts: number): number {
  return Math.min(1_000 * 2 ** Math.max(0, starts - 1), 30_000);
}

/**
 * The parent job of a run: BullMQ starts it once every step job has completed. It writes the
 * audit events (one of each type per run, by deterministic ids) and then marks the run
 * completed, so `completed` implies the audit trail exists.
 *
 * After a partial re-queue it can start while steps are still on their way: it then moves itself
 * back to delayed (BullMQ's `DelayedError`, no attempt spent, nothing recorded as failed) and
 * looks again later. Only when steps stay unfinished for about seven and a half minutes does it
 * fail, with the retryable `internal`. `token` is the worker's lock on the job, needed to move it.
 */
export async function completeRunJob(
  job: Job<RunJobData>,
  deps: RunJobDeps,
  token?: string,
): Promise<unknown> {
  const { models, logger, metrics } = deps;
  const { runId, requestId } = job.data;
  const run = await models.deactivations.findById(runId).lean();
  if (!run) throw new AppError('run_not_found', `Run ${runId} does not exist`);
  await waitForSteps(job, run, token);

  const now = new Date();
  const events = auditEvents(run);
  // One unordered insert of at most three documents: an event an earlier attempt wrote keeps
  // its first time, the others go in (ids are per run and type).
  await insertIgnoringDuplicates(
    models.auditEvents,
    events.map((event) => ({
      _id: `${runId}.${event.type}`,
      orgId: run.orgId,
      subjectId: run.userId,
      at: now,
      ...event,
    })),
  );
  const marked = await models.deactivations.updateOne(
    { _id: runId, status: { $ne: 'completed' } },
    { $set: { status: 'completed', completedAt: now } },
  );
  if (marked.modifiedCount === 1) metrics.runs.inc({ status: 'completed' });
  // This attempt's own mark: the run as read, completed now (its steps were final when read).
  // Otherwise an earlier attempt marked it, and its completion time is read back.
  await recordRunFinished(
    models,
    runId,
    marked.modifiedCount === 1 ? { ...run, status: 'completed', completedAt: now } : undefined,
  );
  logger.info({ runId, requestId, userId: run.userId }, 'run completed');
  // The audit events recorded go back as the return value the dashboard shows (no log line:
  // see reportCompleted).
  return { runId, status: 'completed', audit: events.map((event) => event.type) };
}

/**
 * Returns when every step is completed or skipped. Otherwise (only after a partial re-queue:
 * the missing steps' jobs are on their way) moves the job back to delayed, or, after
 * {@link maxStartsWaiting} starts, fails with the retryable `internal`.
 */
async function waitForSteps(job: Job, run: Deactivation, token?: string): Promise<void> {
  const unfinished = run.steps.filter(
    (step) => step.status !== 'completed' && step.status !== 'skipped',
  );
  if (unfinished.length === 0) return;
  const names = unfinished.map((step) => step.name).join(', ');
  if (token !== undefined && job.attemptsStarted < maxStartsWaiting) {
    const waitMs = waitBeforeNextLook(job.attemptsStarted);
    await job.log(`waiting ${waitMs} ms for steps not finished yet: ${names}`);
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
  throw new AppError('internal', `Steps not finished yet: ${names}`);
}

/** The run's audit events: always two, and the transfer when anything moved. */
function auditEvents(run: Deactivation) {
  const deactivationId = run._id;
  const results = Object.fromEntries(run.steps.map((step) => [step.name, step.result]));
  const transfer = results['transfer-opportunities'] as
    { transferred?: number; to?: string | null } | null | undefined;
  return [
    {
      type: 'user.deactivated',
      actorId: run.actorId,
      data: { deactivationId, source: run.source },
    },
    { type: 'deactivation.completed', actorId: run.actorId, data: { deactivationId, results } },
    ...(transfer?.transferred
      ? [
          {
            type: 'opportunities.transferred',
            actorId: run.actorId,
            data: { deactivationId, to: transfer.to ?? null, count: transfer.transferred },
          },
        ]
      : []),
  ];
}
