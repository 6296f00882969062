import { newBulk, SelectionWriter } from '../../src/bulk/bulk-selection';
import { Queue } from 'bullmq';
import { assessDeactivation } from '../../src/deactivation/assess-deactivation';
import { newRun } from '../../src/deactivation/request-deactivation';
import { buildPlan } from '../../src/domain/deactivation-plan';
import { processBulkBatch } from '../../src/bulk/process-bulk-batch';
import type { BulkDeactivation } from '../../src/models/bulk-deactivation.model';
import type { SelectedUser } from '../../src/bulk/select-dormant-users';
import { createLogger } from '../../src/logging/logger';
import type { BulkItem } from '../../src/models/bulk-item.model';
import type { User } from '../../src/models/user.model';
import { queueNames } from '../../src/queues/queue-names';
import { reconcileRuns } from '../../src/workers/maintenance/reconcile-runs.job';
import { seedStaffedOrg, userFixture, type StaffedOrg } from '../../test-kit/factories';
import { openMonitoredModels, type MonitoredModels } from '../support/monitored-models';
import { openIdleProducer, type IdleProducer } from '../support/run-helpers';
import { openTestStore, type TestStore } from '../support/test-env';

// What one batch of a bulk writes to its items (docs/sweeps-and-bulks.md, Processing): each item
// is given its run's id when the selection is frozen, so the batch creates the runs under those
// ids and records all of its enqueued items in one update; only skips are written one by one.
// Users a filter or a sweep selected are assessed from the snapshot their items keep, and
// switched only if they are still as seen; anyone refused that way is assessed again.

let store: TestStore;
let monitored: MonitoredModels;
let idle: IdleProducer;
beforeAll(async () => {
  store = await openTestStore('bulkbatchwrites');
  monitored = await openMonitoredModels(store.dbName);
  idle = openIdleProducer();
});
afterAll(async () => {
  await monitored.close();
  await idle.close();
  await store.close();
});

/**
 * A bulk by the staff's manager of `users`, frozen as a selection would: ids given by the caller,
 * or users as a filter read them (their items keep the snapshot).
 */
async function frozenBulk(
  staffed: StaffedOrg,
  users: (string | SelectedUser)[],
  dryRun: boolean,
): Promise<{ bulk: BulkDeactivation; items: BulkItem[] }> {
  const bulk = newBulk(
    {
      orgId: staffed.orgId,
      actorId: staffed.manager._id,
      source: 'bulk',
      sweepId: null,
      reason: null,
      allowReactivationOnPurchase: false,
      dryRun,
      filter: null,
      createdAt: new Date(),
    },
    'running',
  );
  const selection = new SelectionWriter(store.models, bulk._id, { dryRun });
  await selection.add(users);
  await selection.flush();
  bulk.matched = selection.count;
  await store.models.bulkDeactivations.create(bulk);
  const items = await store.models.bulkItems.find({ bulkId: bulk._id }).sort({ seq: 1 }).lean();
  return { bulk, items };
}

const itemUpdates = (): number =>
  monitored.sent.filter((sent) => sent.name === 'update' && sent.collection === 'bulkItems').length;

describe('a bulk batch', () => {
  it('creates each run under the id its item was given, and enqueues the items in one update', async () => {
    const staffed = await seedStaffedOrg(store.models, (orgId) =>
      Array.from({ length: 6 }, () => userFixture(orgId)),
    );
    const members = staffed.users.map((user) => user._id);
    // The admin outranks the manager who acts: skipped with `higher_role`.
    const { bulk, items } = await frozenBulk(staffed, [...members, staffed.admin._id], false);
    expect(items.every((item) => item.runId !== null && item.status === 'pending')).toBe(true);
    expect(new Set(items.map((item) => item.runId)).size).toBe(items.length);

    monitored.sent.length = 0;
    await processBulkBatch(
      { models: monitored.models, flows: idle.flows, locks: idle.locks },
      bulk,
      0,
    );

    // One update for the six enqueued items, one for the skipped admin.
    expect(itemUpdates()).toBe(2);
    const after = await store.models.bulkItems.find({ bulkId: bulk._id }).sort({ seq: 1 }).lean();
    const runs = await store.models.deactivations.find({ bulkId: bulk._id }).lean();
    expect(runs).toHaveLength(6);
    for (const [index, item] of after.entries()) {
      const chosen = items[index]?.runId;
      if (item.userId === staffed.admin._id) {
        expect(item).toMatchObject({ status: 'skipped', reason: 'higher_role', runId: null });
      } else {
        expect(item).toMatchObject({ status: 'enqueued', reason: null, runId: chosen });
        expect(runs.find((run) => run.userId === item.userId)?._id).toBe(chosen);
      }
    }
    expect(await store.models.bulkDeactivations.findById(bulk._id).lean()).toMatchObject({
      processed: 7,
      enqueued: 6,
      skipped: 1,
    });
  });

  it('gives a dry run no run ids, and plans its items in one update', async () => {
    const staffed = await seedStaffedOrg(store.models, (orgId) =>
      Array.from({ length: 4 }, () => userFixture(orgId)),
    );
    const { bulk, items } = await frozenBulk(
      staffed,
      staffed.users.map((user) => user._id),
      true,
    );
    expect(items.map((item) => item.runId)).toEqual([null, null, null, null]);

    monitored.sent.length = 0;
    await processBulkBatch(
      { models: monitored.models, flows: idle.flows, locks: idle.locks },
      bulk,
      0,
    );

    expect(itemUpdates()).toBe(1);
    const after = await store.models.bulkItems.find({ bulkId: bulk._id }).lean();
    expect(after.map((item) => [item.status, item.runId])).toEqual(
      Array.from({ length: 4 }, () => ['planned', null]),
    );
    expect(await store.models.deactivations.countDocuments({ bulkId: bulk._id })).toBe(0);
  });
});

/** What a filter's cursor reads of a user (src/bulk/select-dormant-users.ts). */
const selected = (user: User): SelectedUser => ({
  _id: user._id,
  kind: user.kind,
  role: user.role,
  reactivatedAt: user.reactivatedAt ?? null,
});

const userReads = (): number =>
  monitored.sent.filter((sent) => sent.name === 'find' && sent.collection === 'users').length;

async function processFirstBatch(bulk: BulkDeactivation): Promise<void> {
  monitored.sent.length = 0;
  await processBulkBatch(
    { models: monitored.models, flows: idle.flows, locks: idle.locks },
    bulk,
    0,
  );
}

async function itemOf(bulk: BulkDeactivation, userId: string): Promise<BulkItem | null> {
  return store.models.bulkItems.findOne({ bulkId: bulk._id, userId }).lean();
}

describe('a bulk batch of selected users', () => {
  it('keeps what the selection saw on each item and reads none of those users again', async () => {
    const staffed = await seedStaffedOrg(store.models, (orgId) => [
      userFixture(orgId),
      userFixture(orgId, { kind: 'customer' }),
      userFixture(orgId, { reactivatedAt: new Date('2026-01-02T03:04:05Z') }),
    ]);
    const { bulk, items } = await frozenBulk(staffed, staffed.users.map(selected), false);
    expect(items.map((item) => item.seen)).toEqual([
      { kind: 'employee', role: 'member', reactivatedAt: null },
      { kind: 'customer', role: 'member', reactivatedAt: null },
      { kind: 'employee', role: 'member', reactivatedAt: new Date('2026-01-02T03:04:05Z') },
    ]);

    await processFirstBatch(bulk);

    // The acting manager alone (a sweep's system actor is not a user); read, the three would
    // each be one more.
    expect(userReads()).toBe(1);
    for (const user of staffed.users) {
      expect(await itemOf(bulk, user._id)).toMatchObject({ status: 'enqueued' });
      const stored = await store.models.users.findById(user._id).lean();
      expect(stored).toMatchObject({ status: 'inactive' });
      const run = await store.models.deactivations.findById(stored?.deactivationId).lean();
      // The claim is the snapshot's period: one run per user and reactivation.
      expect(run?.claim).toBe(`${staffed.orgId}/${user._id}/${user.reactivatedAt?.getTime() ?? 0}`);
    }
  });

  it('switches nobody who changed since the selection, and gives them the checks of the store', async () => {
    const staffed = await seedStaffedOrg(store.models, (orgId) => [
      userFixture(orgId),
      userFixture(orgId),
      userFixture(orgId),
    ]);
    const [promoted, demoted, reactivated] = staffed.users;
    const { bulk } = await frozenBulk(
      staffed,
      [
        selected(promoted!),
        // Seen as an admin, whom the manager may not deactivate.
        { ...selected(demoted!), role: 'admin' },
        selected(reactivated!),
      ],
      false,
    );
    // After the selection: one became an admin, one is a member now, and one was deactivated
    // and reactivated (a new period: their earlier run holds the old claim).
    await store.models.users.updateOne({ _id: promoted!._id }, { $set: { role: 'admin' } });
    await store.models.users.updateOne({ _id: demoted!._id }, { $set: { role: 'member' } });
    const reactivatedAt = new Date();
    const earlier = {
      ...newRun(
        {
          orgId: staffed.orgId,
          userId: reactivated!._id,
          actorId: staffed.admin._id,
          source: 'api',
          reason: null,
        },
        { ...reactivated!, reactivatedAt: null },
        buildPlan({
          userKind: 'employee',
          allowReactivationOnPurchase: false,
          cutoff: reactivatedAt,
          target: null,
          teamIds: [],
          counts: null,
        }),
        new Date(reactivatedAt.getTime() - 60_000),
      ),
      status: 'completed' as const,
    };
    await store.models.deactivations.collection.insertOne(earlier as never);
    await store.models.users.updateOne({ _id: reactivated!._id }, { $set: { reactivatedAt } });

    await processFirstBatch(bulk);

    // Promoted: the store says admin, whom a manager may not deactivate.
    expect(await itemOf(bulk, promoted!._id)).toMatchObject({
      status: 'skipped',
      reason: 'higher_role',
      runId: null,
    });
    expect(await store.models.users.findById(promoted!._id).lean()).toMatchObject({
      status: 'active',
    });
    expect(await store.models.deactivations.countDocuments({ userId: promoted!._id })).toBe(0);
    // Demoted: refused on the snapshot, accepted on the store.
    const demotedItem = await itemOf(bulk, demoted!._id);
    expect(demotedItem).toMatchObject({ status: 'enqueued' });
    expect(await store.models.users.findById(demoted!._id).lean()).toMatchObject({
      status: 'inactive',
      deactivationId: demotedItem?.runId,
    });
    // Reactivated: the snapshot's claim is the earlier period's; the store's is a new one.
    const reactivatedItem = await itemOf(bulk, reactivated!._id);
    expect(reactivatedItem).toMatchObject({ status: 'enqueued' });
    expect(await store.models.deactivations.findById(reactivatedItem?.runId).lean()).toMatchObject({
      claim: `${staffed.orgId}/${reactivated!._id}/${reactivatedAt.getTime()}`,
    });
    expect(await store.models.bulkDeactivations.findById(bulk._id).lean()).toMatchObject({
      processed: 3,
      enqueued: 2,
      skipped: 1,
      skippedByReason: { higher_role: 1 },
    });
  });
});

describe('a bulk batch resumed after a crash', () => {
  it('gives a user a run of a new id when an abandoned run of the earlier attempt kept the chosen one', async () => {
    const staffed = await seedStaffedOrg(store.models, (orgId) => [userFixture(orgId)]);
    const [user] = staffed.users;
    const { bulk, items } = await frozenBulk(staffed, [selected(user!)], false);
    const chosen = items[0]!.runId!;
    // The earlier attempt wrote the run under the chosen id and died before switching the user;
    // the reconciler then closed it as abandoned and freed its claim.
    const { plan } = await assessDeactivation(
      store.models,
      { orgId: staffed.orgId, userId: user!._id, actorId: staffed.manager._id, source: 'bulk' },
      new Date(),
      { counts: false },
    );
    await store.models.deactivations.collection.insertOne({
      ...newRun(
        {
          orgId: staffed.orgId,
          userId: user!._id,
          actorId: staffed.manager._id,
          source: 'bulk',
          reason: null,
        },
        user!,
        plan,
        new Date(Date.now() - 60_000),
        chosen,
      ),
      bulkId: bulk._id,
    } as never);
    const runsQueue = new Queue(queueNames.runs, {
      connection: idle.connection,
      prefix: idle.prefix,
    });
    try {
      const reconciled = await reconcileRuns(
        {
          models: store.models,
          flows: idle.flows,
          runsQueue,
          logger: createLogger({ logLevel: 'silent' }),
        },
        { graceMs: 0 },
      );
      expect(reconciled.abandoned).toBe(1);
    } finally {
      await runsQueue.close();
    }

    await processFirstBatch(bulk);

    const item = await itemOf(bulk, user!._id);
    expect(item).toMatchObject({ status: 'enqueued', reason: null });
    expect(item?.runId).not.toBe(chosen);
    expect(await store.models.users.findById(user!._id).lean()).toMatchObject({
      status: 'inactive',
      deactivationId: item?.runId,
    });
    expect(await store.models.deactivations.findById(item?.runId).lean()).toMatchObject({
      status: 'pending',
      bulkId: bulk._id,
    });
    expect(await store.models.deactivations.findById(chosen).lean()).toMatchObject({
      status: 'failed',
    });
  });
});
