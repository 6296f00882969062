import { Queue, type JobNode } from 'bullmq';
import { assessDeactivation } from '../../src/deactivation/assess-deactivation';
import { newRun, requestDeactivation } from '../../src/deactivation/request-deactivation';
import { createLogger } from '../../src/logging/logger';
import { erasureJobId } from '../../src/queues/erasure-queue';
import { runJobId } from '../../src/queues/job-ids';
import { queueNames } from '../../src/queues/queue-names';
import { reconcileRuns } from '../../src/workers/maintenance/reconcile-runs.job';
import { reconcileErasures } from '../../src/workers/erasure/reconcile-erasures';
import { insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';
import { openIdleProducer, type IdleProducer } from '../support/run-helpers';
import { openTestStore, type TestStore } from '../support/test-env';

// README (Choices, Reactivation/erasure): the reconciler closes a run whose request died
// between writing it and switching the user, and frees the claim; the erasure reconciler
// re-queues an erasure that was never queued. Both are called as the maintenance job calls
// them, on a producer no worker serves, so what they queue stays where the test can read it.

let store: TestStore;
let idle: IdleProducer;
let runsQueue: Queue;
const logger = createLogger({ logLevel: 'silent' });

beforeAll(async () => {
  store = await openTestStore('reconcilers');
  idle = openIdleProducer();
  runsQueue = new Queue(queueNames.runs, { connection: idle.connection, prefix: idle.prefix });
});

afterAll(async () => {
  await runsQueue.close();
  await idle.close();
  await store.close();
});

const minutesAgo = (minutes: number): Date => new Date(Date.now() - minutes * 60_000);

describe('the run reconciler', () => {
  it('closes a run whose request died before switching the user, frees the claim, and re-queues a switched one', async () => {
    const { models } = store;
    const org = orgFixture();
    const admin = userFixture(org._id, { role: 'admin' });
    const stranded = userFixture(org._id);
    const switched = userFixture(org._id);
    await insertFixtures(models, { organizations: [org], users: [admin, stranded, switched] });
    const at = minutesAgo(5);
    const runFor = async (userId: string): Promise<ReturnType<typeof newRun>> => {
      const request = { orgId: org._id, userId, actorId: admin._id, source: 'api' as const };
      const { user, plan } = await assessDeactivation(models, request, at, { counts: false });
      return newRun(request, user, plan, at);
    };
    // What a request leaves when it dies after writing the run: the user still active. And
    // one that switched the user but whose flow never reached Redis.
    const abandoned = await runFor(stranded._id);
    const unqueued = await runFor(switched._id);
    await models.deactivations.insertMany([abandoned, unqueued]);
    await models.users.updateOne(
      { _id: switched._id },
      { $set: { status: 'inactive', deactivatedAt: at, deactivationId: unqueued._id } },
    );

    const outcome = await reconcileRuns(
      { models, flows: idle.flows, runsQueue, logger },
      { graceMs: 30_000 },
    );
    expect(outcome).toEqual({ checked: 2, requeued: 1, abandoned: 1 });

    const closed = await models.deactivations.findById(abandoned._id).lean();
    expect(closed).toMatchObject({ status: 'failed' });
    expect(closed?.error).toMatch(/^abandoned/);
    expect(closed?.claim).not.toBe(abandoned.claim);
    expect(await runsQueue.getJob(runJobId(abandoned._id))).toBeUndefined();
    expect(await models.users.findById(stranded._id).lean()).toMatchObject({ status: 'active' });
    // Nothing was carried out behind the caller's back, and the user can be deactivated anew.
    const again = await requestDeactivation(
      { models, flows: idle.flows, locks: idle.locks },
      { orgId: org._id, userId: stranded._id, actorId: admin._id, source: 'api' },
    );
    expect(again._id).not.toBe(abandoned._id);
    expect(again.claim).toBe(abandoned.claim);
    expect(await models.users.findById(stranded._id).lean()).toMatchObject({
      status: 'inactive',
      deactivationId: again._id,
    });

    // The switched user's run was re-queued, not closed.
    expect((await models.deactivations.findById(unqueued._id).lean())?.status).toBe('pending');
    expect(await (await runsQueue.getJob(runJobId(unqueued._id)))?.getState()).toBe(
      'waiting-children',
    );

    // A second pass finds the queued run alive and leaves the closed one alone.
    expect(
      await reconcileRuns({ models, flows: idle.flows, runsQueue, logger }, { graceMs: 30_000 }),
    ).toEqual({ checked: 1, requeued: 0, abandoned: 0 });
  });
});

describe('the erasure reconciler', () => {
  it('queues the erasure of a deleted user whose data is still there and who has no job, once', async () => {
    const { models } = store;
    const org = orgFixture();
    const neverQueued = userFixture(org._id, { status: 'deleted' });
    const alreadyErased = userFixture(org._id, {
      status: 'deleted',
      email: null,
      firstName: null,
      lastName: null,
      deletedAt: new Date(),
    });
    const inactive = userFixture(org._id, { status: 'inactive' });
    await insertFixtures(models, {
      organizations: [org],
      users: [neverQueued, alreadyErased, inactive],
    });
    const jobOf = async (userId: string): Promise<JobNode | undefined> =>
      await idle.flows.getFlow({ id: erasureJobId(userId), queueName: queueNames.erasures });
    expect(await jobOf(neverQueued._id)).toBeUndefined();

    expect(await reconcileErasures({ models, flows: idle.flows })).toEqual({ requeued: 1 });
    const queued = await jobOf(neverQueued._id);
    expect(queued?.job.data).toEqual({ orgId: org._id, userId: neverQueued._id });
    expect(await queued?.job.getState()).toBe('waiting');
    expect(await jobOf(alreadyErased._id)).toBeUndefined();
    expect(await jobOf(inactive._id)).toBeUndefined();

    // The job exists now: the next pass queues nothing.
    expect(await reconcileErasures({ models, flows: idle.flows })).toEqual({ requeued: 0 });
  });
});
