import { DelayedError, type Job } from 'bullmq';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../logging/logger';
import type { ServiceMetrics } from '../../metrics/service-metrics';
import type { Models } from '../../models/create-models';
import type { RunJobData } from '../../queues/deactivation-flow';
import { recordRunFinished } from '../../webhooks/webhook-facts';

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
export async function processRunJob(
  job: Job<RunJobData>,
  deps: RunJobDeps,
  token?: string,
): Promise<unknown> {
  const { models, logger, metrics } = deps;
  const { runId, requestId } = job.data;
  const run = await models.deactivations.findById(runId).lean();
  if (!run) throw new AppError('run_not_found', `Run ${runId} does not exist`);

  const unfinished = run.steps.filter(
    (step) => step.status !== 'completed' && step.status !== 'skipped',
  );
  if (unfinished.length > 0) {
    // Only after a partial re-queue: the missing steps' jobs are on their way.
    const names = unfinished.map((step) => step.name).join(', ');
    if (token !== undefined && job.attemptsStarted < maxStartsWaiting) {
      const waitMs = waitBeforeNextLook(job.attemptsStarted);
      await job.log(`waiting ${waitMs} ms for steps not finished yet: ${names}`);
      await job.moveToDelayed(Date.now() + waitMs, token);
      throw new DelayedError();
    }
    throw new AppError('internal', `Steps not finished yet: ${names}`);
  }
  const results = Object.fromEntries(run.steps.map((step) => [step.name, step.result]));
  const transfer = results['transfer-opportunities'] as
    { transferred?: number; to?: string | null } | null | undefined;
  const now = new Date();
  const events = [
    {
      type: 'user.deactivated',
      actorId: run.actorId,
      data: { deactivationId: runId, source: run.source },
    },
    {
      type: 'deactivation.completed',
      actorId: run.actorId,
      data: { deactivationId: runId, results },
    },
    ...(transfer?.transferred
      ? [
          {
            type: 'opportunities.transferred',
            actorId: run.actorId,
            data: { deactivationId: runId, to: transfer.to ?? null, count: transfer.transferred },
          },
        ]
      : []),
  ];
  // Separate upserts (at most three, each its own document) rather than one bulkWrite (see
  // writeConcurrency in src/store/per-key-queries.ts).
  await Promise.all(
    events.map((event) =>
      models.auditEvents.updateOne(
        { _id: `${runId}.${event.type}` },
        { $setOnInsert: { orgId: run.orgId, subjectId: run.userId, at: now, ...event } },
        { upsert: true },
      ),
    ),
  );
  const marked = await models.deactivations.updateOne(
    { _id: runId, status: { $ne: 'completed' } },
    { $set: { status: 'completed', completedAt: now } },
  );
  if (marked.modifiedCount === 1) metrics.runs.inc({ status: 'completed' });
  await recordRunFinished(models, runId);
  logger.info({ runId, requestId, userId: run.userId }, 'run completed');
  await job.log(`run completed: ${events.map((event) => event.type).join(', ')} recorded`);
  return { runId, status: 'completed' };
}
