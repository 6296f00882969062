import type { FlowProducer } from 'bullmq';
import { enqueueRuns } from '../deactivation/deactivation-flow.job';
import { acceptDeactivations } from '../deactivation/request-deactivation';
import {
  assessDeactivations,
  type Assessment,
  type AssessmentOutcome,
} from '../deactivation/assess-deactivation';
import { skipReason } from '../domain/refusal-reason';
import { mapLimit } from '../infra/map-limit';
import type { KeyedLock } from '../infra/redis-lock';
import type { BulkDeactivation } from '../models/bulk-deactivation.model';
import type { BulkItem } from '../models/bulk-item.model';
import type { Models } from '../models/create-models';
import type { Deactivation } from '../models/deactivation.model';
import { lookupConcurrency, writeConcurrency } from '../store/per-key-queries';

/** What one batch of a bulk needs. */
export interface BulkBatchDeps {
  models: Models;
  flows: FlowProducer;
  /** Accepting admins takes the organization's admin lock, as a single request does. */
  locks: KeyedLock;
}

/** What becomes of one item. */
export type ItemUpdate = Pick<BulkItem, 'status' | 'reason' | 'runId'>;

/** A batch's decisions before anything is written: item updates, users to accept, runs to resume. */
interface BatchDecisions {
  updates: Map<string, ItemUpdate>;
  toAccept: Assessment[];
  resumed: Deactivation[];
}

/**
 * A user refused as "already inactive" may be ours: an earlier attempt of this job created the
 * run and stopped before recording it. Returns those runs by user.
 */
async function runsOfEarlierAttempts(
  models: Models,
  bulkId: string,
  items: BulkItem[],
  outcomes: Map<string, AssessmentOutcome>,
): Promise<Map<string, Deactivation>> {
  const maybeOurs = items.filter((item) => {
    const outcome = outcomes.get(item.userId);
    return (
      outcome !== undefined && !outcome.ok && skipReason(outcome.error.code) === 'already_inactive'
    );
  });
  const runs = await mapLimit(maybeOurs, lookupConcurrency, (item) =>
    models.deactivations.findOne({ bulkId, userId: item.userId }).lean(),
  );
  return new Map(runs.flatMap((run) => (run ? [[run.userId, run] as const] : [])));
}

/** Sorts each item by its assessment: resumed, skipped (with the reason), planned, or to accept. */
function decide(
  bulk: BulkDeactivation,
  items: BulkItem[],
  outcomes: Map<string, AssessmentOutcome>,
  ours: Map<string, Deactivation>,
): BatchDecisions {
  const decisions: BatchDecisions = { updates: new Map(), toAccept: [], resumed: [] };
  const { updates } = decisions;
  for (const item of items) {
    const outcome = outcomes.get(item.userId);
    const earlier = ours.get(item.userId);
    if (earlier) {
      decisions.resumed.push(earlier);
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
      decisions.toAccept.push(outcome.assessment);
    }
  }
  return decisions;
}

/** Creates the accepted users' runs and flows; records each item's run or skip reason. */
async function accept(
  deps: BulkBatchDeps,
  bulk: BulkDeactivation,
  items: BulkItem[],
  decisions: BatchDecisions,
  now: Date,
): Promise<void> {
  if (decisions.resumed.length > 0) await enqueueRuns(deps.flows, decisions.resumed);
  if (decisions.toAccept.length === 0) return;
  const accepted = await acceptDeactivations(
    { models: deps.models, flows: deps.flows, locks: deps.locks },
    {
      orgId: bulk.orgId,
      actorId: bulk.actorId,
      source: bulk.source,
      reason: bulk.reason,
      bulkId: bulk._id,
    },
    decisions.toAccept,
    { now },
  );
  for (const item of items) {
    const result = accepted.get(item.userId);
    if (!result) continue;
    decisions.updates.set(
      item._id,
      result.ok
        ? { status: 'enqueued', reason: null, runId: result.run._id }
        : { status: 'skipped', reason: skipReason(result.error.code), runId: null },
    );
  }
}

/** The bulk's counters, moved by one batch's item updates. */
function counterIncrements(updates: Map<string, ItemUpdate>): Record<string, number> {
  const increments: Record<string, number> = { processed: updates.size };
  for (const update of updates.values()) {
    increments[update.status] = (increments[update.status] ?? 0) + 1;
    if (update.status === 'skipped') {
      const key = `skippedByReason.${update.reason ?? 'unknown'}`;
      increments[key] = (increments[key] ?? 0) + 1;
    }
  }
  delete increments.pending;
  return increments;
}

/**
 * Works through one batch of a bulk's pending items: every user gets the checks of a single
 * deactivation (refusals are recorded per user, never failing the bulk), accepted users get
 * runs created and flows added in one round trip each. Returns how many items the bulk has
 * processed so far, or null when the batch had nothing pending.
 */
export async function processBulkBatch(
  deps: BulkBatchDeps,
  bulk: BulkDeactivation,
  batch: number,
): Promise<number | null> {
  const { models } = deps;
  const bulkId = bulk._id;
  const items = (await models.bulkItems.find({ bulkId, batch }).lean())
    .filter((item) => item.status === 'pending')
    .sort((x, y) => x.seq - y.seq);
  if (items.length === 0) return null;
  const now = new Date();
  const outcomes = await assessDeactivations(
    models,
    {
      orgId: bulk.orgId,
      actorId: bulk.actorId,
      systemActor: bulk.source === 'sweep',
      allowReactivationOnPurchase: bulk.allowReactivationOnPurchase,
      userIds: items.map((item) => item.userId),
      // Runs carry no counts: four reads per user nothing depends on (docs/rules.md).
      counts: false,
    },
    now,
  );
  const ours = await runsOfEarlierAttempts(models, bulkId, items, outcomes);
  const decisions = decide(bulk, items, outcomes, ours);
  await accept(deps, bulk, items, decisions, now);
  // One update per item, a few at a time, never one bulkWrite (see writeConcurrency).
  await mapLimit([...decisions.updates], writeConcurrency, ([id, update]) =>
    models.bulkItems.updateOne({ _id: id }, { $set: update }),
  );
  // Counters move by this batch's outcomes (one writer: this job); the exact totals are
  // recounted from the items at the end, so a crash between here and there costs nothing.
  const progressed = await models.bulkDeactivations
    .findOneAndUpdate(
      { _id: bulkId },
      { $inc: counterIncrements(decisions.updates) },
      { returnDocument: 'after' },
    )
    .lean();
  return progressed?.processed ?? 0;
}
