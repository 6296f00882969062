import type { Queue } from 'bullmq';
import { AppError } from '../errors/app-error';
import type { Models } from '../models/create-models';
import type { SweepReport } from '../models/sweep-report.model';
import { enqueueBulk } from '../queues/bulk-queue';

/**
 * Releases a sweep the circuit breaker held: its frozen selection is deactivated as one bulk.
 * The bulk job's id derives from the bulk, so approving twice queues it once.
 */
export async function approveSweep(
  deps: { models: Models; bulkQueue: Queue },
  input: { orgId: string; sweepId: string; approvedBy: string },
): Promise<SweepReport> {
  const { models } = deps;
  const sweep = await models.sweeps.findOne({ _id: input.sweepId, orgId: input.orgId }).lean();
  if (!sweep) throw new AppError('not_found', `Unknown sweep ${input.sweepId}`);
  if (sweep.status !== 'held' || sweep.bulkId === null) {
    throw new AppError('not_held', `The sweep is ${sweep.status}, not held`);
  }
  // The report says `approved` before the bulk can start, so the bulk's completion is the
  // last word on it.
  const approvedAt = new Date();
  await models.sweeps.updateOne(
    { _id: sweep._id },
    { $set: { status: 'approved', approvedBy: input.approvedBy, approvedAt } },
  );
  const bulk = await models.bulkDeactivations.findOneAndUpdate(
    { _id: sweep.bulkId, status: 'held' },
    { $set: { status: 'pending' } },
    { returnDocument: 'after' },
  );
  if (bulk) await enqueueBulk(deps.bulkQueue, bulk);
  return { ...sweep, status: 'approved', approvedBy: input.approvedBy, approvedAt };
}
