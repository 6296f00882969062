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
import { equalityOrIn, lookupConcurrency, writeConcurrency } from '../store/per-key-queries';

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

/** Each user's run id as the selection chose it (items frozen before ids were chosen: none). */
function chosenRunIds(items: BulkItem[]): Map<string, string> {
  return new Map(items.flatMap((item) => (item.runId ? [[item.userId, item.runId] as const] : [])));
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
    { now, runIds: chosenRunIds(items) },
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

/**
 * Writes a batch's item updates. The common outcomes, an item enqueued under the run id its
 * selection chose or planned in a dry run, change only the status: all of a batch's go in one
 * `updateMany` per status (on FerretDB v1 a quarter of the time of one update per item). The rest
 * (skips, runs of an earlier attempt under another id) are one update each, a few at a time,
 * never one bulkWrite (see writeConcurrency). Conditional on `pending`, so a repeat changes
 * nothing.
 */
async function recordItemUpdates(
  models: Models,
  bulkId: string,
  batch: number,
  items: BulkItem[],
  updates: Map<string, ItemUpdate>,
): Promise<void> {
  const byStatus = new Map<BulkItem['status'], string[]>();
  const single: [string, ItemUpdate][] = [];
  for (const item of items) {
    const update = updates.get(item._id);
    if (update === undefined) continue;
    // Only the status changes: the reason stays null and the run id is the one chosen.
    const statusOnly = update.status !== 'skipped' && update.runId === item.runId;
    if (!statusOnly) single.push([item._id, update]);
    else if (byStatus.has(update.status)) byStatus.get(update.status)?.push(item._id);
    else byStatus.set(update.status, [item._id]);
  }
  await mapLimit(single, writeConcurrency, ([_id, update]) =>
    models.bulkItems.updateOne({ _id, status: 'pending' }, { $set: update }),
  );
  for (const [status, ids] of byStatus) {
    // `bulkId` and `batch` by equality, which FerretDB pushes down to PostgreSQL; the ids narrow
    // the batch's items in memory.
    await models.bulkItems.updateMany(
      { bulkId, batch, status: 'pending', _id: equalityOrIn(ids) },
      { $set: { status, reason: null } },
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
 * Assesses the items' users, sorts them ({@link decide}) and accepts the accepted ones; returns
 * each item's update. `fromSnapshots`: users whose items keep a snapshot are not read.
 */
async function settleItems(
  deps: BulkBatchDeps,
  bulk: BulkDeactivation,
  items: BulkItem[],
  now: Date,
  options: { fromSnapshots: boolean },
): Promise<Map<string, ItemUpdate>> {
  const { models } = deps;
  const seen = new Map(
    options.fromSnapshots
      ? items.flatMap((item) => (item.seen ? [[item.userId, item.seen] as const] : []))
      : [],
  );
  const outcomes = await assessDeactivations(
    models,
    {
      orgId: bulk.orgId,
      actorId: bulk.actorId,
      systemActor: bulk.source === 'sweep',
      allowReactivationOnPurchase: bulk.allowReactivationOnPurchase,
      userIds: items.map((item) => item.userId),
      seen,
      // Runs carry no counts: four reads per user nothing depends on (docs/rules.md).
      counts: false,
    },
    now,
  );
  const ours = await runsOfEarlierAttempts(models, bulk._id, items, outcomes);
  const decisions = decide(bulk, items, outcomes, ours);
  await accept(deps, bulk, items, decisions, now);
  return decisions.updates;
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
  // A dry run writes nothing that could catch a stale snapshot: its users are read.
  const fromSnapshots = !bulk.dryRun;
  const updates = await settleItems(deps, bulk, items, now, { fromSnapshots });
  // A refusal built on a snapshot, or a switch the user no longer matched, may be stale: those
  // users are assessed again, from the store, as if they had no snapshot.
  const recheck = fromSnapshots
    ? items.filter((item) => item.seen && updates.get(item._id)?.status === 'skipped')
    : [];
  if (recheck.length > 0) {
    const rechecked = await settleItems(deps, bulk, recheck, now, { fromSnapshots: false });
    for (const [id, update] of rechecked) updates.set(id, update);
  }
  await recordItemUpdates(models, bulkId, batch, items, updates);
  // Counters move by this batch's outcomes (one writer: this job); the exact totals are
  // recounted from the items at the end, so a crash between here and there costs nothing.
  const progressed = await models.bulkDeactivations
    .findOneAndUpdate(
      { _id: bulkId },
      { $inc: counterIncrements(updates) },
      { returnDocument: 'after' },
    )
    .lean();
  return progressed?.processed ?? 0;
}
