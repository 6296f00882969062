import type { FlowProducer, Job } from 'bullmq';
import { acceptRuns } from '../deactivation/accept-runs';
import { bulkBatchSize } from './accept-bulk';

export { bulkBatchSize };
import { assessDeactivations, type Assessment } from '../deactivation/assess-deactivation';
import { skipReason } from '../domain/refusal-reason';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import type { BulkItem } from '../models/bulk-item.model';
import type { Models } from '../models/create-models';
import { mapLimit } from '../infra/map-limit';
import type { BulkJobData } from '../queues/bulk-queue';
import { enqueueRuns } from '../queues/deactivation-flow';
import { lookupConcurrency, writeConcurrency } from '../store/per-key-queries';
import { recordBulkCompleted } from '../webhooks/webhook-facts';

/** What the bulk job needs. */
export interface BulkJobDeps {
  models: Models;
  flows: FlowProducer;
  logger: Logger;
}

type ItemUpdate = Pick<BulkItem, 'status' | 'reason' | 'runId'>;

/** Counts a bulk's items by outcome: the report, derived from the items themselves. */
export async function countBulkItems(
  models: Models,
  bulkId: string,
): Promise<{
  enqueued: number;
  planned: number;
  skipped: number;
  skippedByReason: Record<string, number>;
  processed: number;
}> {
  const rows = await models.bulkItems.aggregate<{
    _id: { status: string; reason: string | null };
    n: number;
  }>([
    { $match: { bulkId } },
    { $group: { _id: { status: '$status', reason: '$reason' }, n: { $sum: 1 } } },
  ]);
  const totals = {
    enqueued: 0,
    planned: 0,
    skipped: 0,
    skippedByReason: {} as Record<string, number>,
    processed: 0,
  };
  for (const row of rows) {
    if (row._id.status === 'pending') continue;
    totals.processed += row.n;
    if (row._id.status === 'enqueued') totals.enqueued += row.n;
    if (row._id.status === 'planned') totals.planned += row.n;
    if (row._id.status === 'skipped') {
      totals.skipped += row.n;
      const reason = row._id.reason ?? 'unknown';
      totals.skippedByReason[reason] = (totals.skippedByReason[reason] ?? 0) + row.n;
    }
  }
  return totals;
}

/**
 * Works through a bulk's frozen selection a batch at a time: every user gets the checks of a
 * single deactivation (refusals are recorded per user, never failing the bulk), accepted users
 * get runs created and flows added in one round trip each. Progress goes to the job and the
 * bulk document. After a crash the job resumes where the items say, and the runs' unique
 * claims keep anyone from getting a second run.
 */
export async function processBulkJob(job: Job<BulkJobData>, deps: BulkJobDeps): Promise<unknown> {
  const { models, flows, logger } = deps;
  const { bulkId } = job.data;
  const bulk = await models.bulkDeactivations.findById(bulkId).lean();
  if (!bulk) throw new AppError('bulk_not_found', `Bulk deactivation ${bulkId} does not exist`);
  if (bulk.status === 'completed' || bulk.status === 'held') return { bulkId, status: bulk.status };
  await models.bulkDeactivations.updateOne(
    { _id: bulkId },
    { $set: { status: 'running', startedAt: bulk.startedAt ?? new Date() } },
  );

  const batches = Math.ceil(bulk.matched / bulkBatchSize);
  for (let batch = 0; batch < batches; batch += 1) {
    const items = (await models.bulkItems.find({ bulkId, batch }).lean())
      .filter((item) => item.status === 'pending')
      .sort((x, y) => x.seq - y.seq);
    if (items.length === 0) continue;
    const now = new Date();
    const outcomes = await assessDeactivations(
      models,
      {
        orgId: bulk.orgId,
        actorId: bulk.actorId,
        systemActor: bulk.source === 'sweep',
        allowReactivationOnPurchase: bulk.allowReactivationOnPurchase,
        userIds: items.map((item) => item.userId),
      },
      now,
    );
    // A user refused as "already inactive" may be ours: an earlier attempt of this job created
    // the run and stopped before recording it.
    const maybeOurs = items.filter((item) => {
      const outcome = outcomes.get(item.userId);
      return (
        outcome !== undefined &&
        !outcome.ok &&
        skipReason(outcome.error.code) === 'already_inactive'
      );
    });
    const ours = new Map(
      (
        await mapLimit(maybeOurs, lookupConcurrency, (item) =>
          models.deactivations.findOne({ bulkId, userId: item.userId }).lean(),
        )
      ).flatMap((run) => (run ? [[run.userId, run] as const] : [])),
    );
    const updates = new Map<string, ItemUpdate>();
    const toAccept: Assessment[] = [];
    const resumed = [];
    for (const item of items) {
      const outcome = outcomes.get(item.userId);
      const earlier = ours.get(item.userId);
      if (earlier) {
        resumed.push(earlier);
        updates.set(item._id, { status: 'enqueued', reason: null, runId: earlier._id });
      } else if (outcome === undefined) {
        updates.set(item._id, { status: 'skipped', reason: 'not_found', runId: null });
      } else if (!outcome.ok) {
        // Refusals about the user are recorded; anything else (the store failing) fails the
        // batch so BullMQ retries it.
        const reason = skipReason(outcome.error.code);
        if (reason === null) throw outcome.error;
        updates.set(item._id, { status: 'skipped', reason, runId: null });
      } else if (bulk.dryRun) {
        updates.set(item._id, { status: 'planned', reason: null, runId: null });
      } else {
        toAccept.push(outcome.assessment);
      }
    }
    if (resumed.length > 0) await enqueueRuns(flows, resumed);
    if (toAccept.length > 0) {
      const accepted = await acceptRuns(
        { models, flows },
        {
          orgId: bulk.orgId,
          actorId: bulk.actorId,
          source: bulk.source,
          reason: bulk.reason,
          bulkId,
        },
        toAccept,
        now,
      );
      for (const item of items) {
        const result = accepted.get(item.userId);
        if (!result) continue;
        updates.set(
          item._id,
          result.ok
            ? { status: 'enqueued', reason: null, runId: result.run._id }
            : { status: 'skipped', reason: result.reason, runId: null },
        );
      }
    }
    // One update per item, a few at a time, never one bulkWrite (see writeConcurrency).
    await mapLimit([...updates], writeConcurrency, ([id, update]) =>
      models.bulkItems.updateOne({ _id: id }, { $set: update }),
    );
    // Counters move by this batch's outcomes (one writer: this job); the exact totals are
    // recounted from the items at the end, so a crash between here and there costs nothing.
    const increments: Record<string, number> = { processed: updates.size };
    for (const update of updates.values()) {
      increments[update.status] = (increments[update.status] ?? 0) + 1;
      if (update.status === 'skipped') {
        const key = `skippedByReason.${update.reason ?? 'unknown'}`;
        increments[key] = (increments[key] ?? 0) + 1;
      }
    }
    delete increments.pending;
    const progressed = await models.bulkDeactivations
      .findOneAndUpdate({ _id: bulkId }, { $inc: increments }, { returnDocument: 'after' })
      .lean();
    await job.updateProgress({ processed: progressed?.processed ?? 0, matched: bulk.matched });
  }

  const totals = await countBulkItems(models, bulkId);
  const finishedAt = new Date();
  await models.bulkDeactivations.updateOne(
    { _id: bulkId },
    { $set: { ...totals, status: 'completed', finishedAt } },
  );
  if (bulk.sweepId !== null) {
    const sweep = await models.sweeps.findById(bulk.sweepId).lean();
    const skippedByReason = { ...(sweep?.skippedByReason ?? {}) };
    for (const [reason, count] of Object.entries(totals.skippedByReason)) {
      skippedByReason[reason] = (skippedByReason[reason] ?? 0) + count;
    }
    await models.sweeps.updateOne(
      { _id: bulk.sweepId },
      {
        $set: {
          status: bulk.dryRun ? 'dry_run' : 'completed',
          deactivated: totals.enqueued,
          skippedByReason,
          finishedAt,
        },
      },
    );
  }
  await recordBulkCompleted(models, bulkId);
  logger.info({ bulkId, ...totals }, 'bulk deactivation finished');
  return { bulkId, status: 'completed', ...totals };
}
