import type { Job } from 'bullmq';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../logging/logger';
import type { ServiceMetrics } from '../../metrics/service-metrics';
import type { Models } from '../../models/create-models';
import type { RunJobData } from '../../queues/deactivation-flow';

/** What the parent job needs. */
export interface RunJobDeps {
  models: Models;
  logger: Logger;
  metrics: ServiceMetrics;
}

/**
 * The parent job of a run: BullMQ starts it once every step job has completed. It writes the
 * audit events (one of each type per run, by deterministic ids) and then marks the run
 * completed, so `completed` implies the audit trail exists.
 */
export async function processRunJob(job: Job<RunJobData>, deps: RunJobDeps): Promise<unknown> {
  const { models, logger, metrics } = deps;
  const { runId, requestId } = job.data;
  const run = await models.deactivations.findById(runId).lean();
  if (!run) throw new AppError('invalid_step_data', `Run ${runId} does not exist`);

  const unfinished = run.steps.filter(
    (step) => step.status !== 'completed' && step.status !== 'skipped',
  );
  if (unfinished.length > 0) {
    // Only after a partial re-queue: the missing steps' jobs are on their way.
    throw new AppError(
      'internal',
      `Steps not finished yet: ${unfinished.map((step) => step.name).join(', ')}`,
    );
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
  // Separate upserts (at most three, each its own document) rather than one bulkWrite: FerretDB
  // v1 holds a connection per statement of an update command until the command ends.
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
  logger.info({ runId, requestId, userId: run.userId }, 'run completed');
  await job.log(`run completed: ${events.map((event) => event.type).join(', ')} recorded`);
  return { runId, status: 'completed' };
}
