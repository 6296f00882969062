import type { Job } from 'bullmq';
import { AppError } from '../../errors/app-error';
import { toAppError } from '../../errors/to-app-error';
import type { KeyedLock } from '../../infra/redis-lock';
import type { Logger } from '../../logging/logger';
import type { ServiceMetrics } from '../../metrics/service-metrics';
import type { Models } from '../../models/create-models';
import { stepNames } from '../../models/deactivation.model';
import type { StepJobData } from '../../queues/deactivation-flow';
import { recordRunFinished } from '../../webhooks/webhook-facts';
import { describeStepResult } from '../steps/describe-step-result';
import { stepTable } from '../steps/step-table';

/** What a step job needs. */
export interface StepJobDeps {
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
  locks: KeyedLock;
}

function isFinalAttempt(job: Job, error: AppError): boolean {
  return !error.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * Runs one step of a run and mirrors it in the run's `steps` record: attempts, result, error,
 * completion. A step already completed returns its stored result without touching anything,
 * so a retry or a re-queued flow never repeats finished work.
 */
export async function processStepJob(job: Job<StepJobData>, deps: StepJobDeps): Promise<unknown> {
  const { models, logger, metrics, locks } = deps;
  const { runId, step, requestId } = job.data;
  const index = stepNames.indexOf(step);
  const run = await models.deactivations.findById(runId).lean();
  if (index < 0) throw new AppError('invalid_step_data', `Step "${step}" does not exist`);
  if (!run) throw new AppError('run_not_found', `Run ${runId} does not exist`);
  const record = run.steps[index];
  if (record?.status === 'completed') return record.result;
  if (!run.plan.steps[step]) return null;

  const at = `steps.${index}`;
  const timer = metrics.stepDuration.startTimer({ step });
  // Steps of a run run one at a time (see runFlow), so the run reads `running` from its first
  // step on, and again when an operator retries a failed step.
  const markRunning = models.deactivations.updateOne(
    { _id: runId, [`${at}.status`]: { $ne: 'completed' } },
    {
      // A completed run stays completed: a late duplicate of a step must not reopen it.
      $set: {
        [`${at}.status`]: 'running',
        ...(run.status === 'completed' ? {} : { status: 'running' }),
      },
      $inc: { [`${at}.attempts`]: 1 },
    },
  );

  try {
    // Independent of each other: one round trip to the store instead of two.
    const [, user] = await Promise.all([
      markRunning,
      models.users.findOne({ _id: run.userId, orgId: run.orgId }).lean(),
    ]);
    const result = await stepTable[step](
      {
        runId,
        orgId: run.orgId,
        userId: run.userId,
        actorId: run.actorId,
        plan: run.plan,
        // Only while the user is still inactive under this run: after a reactivation (or
        // erasure) an old run's retried step changes nothing.
        apply: user?.status === 'inactive' && user.deactivationId === runId,
        now: new Date(),
      },
      { models, locks },
    );
    await models.deactivations.updateOne(
      { _id: runId, [`${at}.status`]: { $ne: 'completed' } },
      {
        $set: {
          [`${at}.status`]: 'completed',
          [`${at}.result`]: result,
          [`${at}.error`]: null,
          [`${at}.completedAt`]: new Date(),
        },
      },
    );
    timer({ outcome: 'completed' });
    const summary = describeStepResult(step, result);
    logger.info(
      { runId, requestId, step, result, attempt: job.attemptsMade + 1 },
      `step completed: ${summary}`,
    );
    // What the operator sees in the dashboard: the step's effect and that it is done.
    await Promise.all([job.log(summary), job.updateProgress(100)]);
    return result;
  } catch (error) {
    const appError = toAppError(error);
    const final = isFinalAttempt(job, appError);
    const message = `${appError.code}: ${error instanceof Error ? error.message : String(error)}`;
    await models.deactivations
      .updateOne(
        { _id: runId, [`${at}.status`]: { $ne: 'completed' } },
        {
          $set: {
            [`${at}.status`]: final ? 'failed' : 'pending',
            [`${at}.error`]: message,
            ...(final ? { status: 'failed' } : {}),
          },
        },
      )
      .catch((recordError: unknown) => {
        // The store may be what failed; BullMQ's retry will record the next attempt.
        logger.warn({ runId, step, err: recordError }, 'could not record the step failure');
      });
    timer({ outcome: 'failed' });
    metrics.stepFailures.inc({ step, code: appError.code });
    if (final) metrics.runs.inc({ status: 'failed' });
    if (final) {
      await recordRunFinished(models, runId).catch((recordError: unknown) => {
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
    throw error;
  }
}
