import { createHash } from 'node:crypto';
import { FlowProducer, Queue } from 'bullmq';
import { requestDeactivation } from '../../src/deactivation/request-deactivation';
import { createRedisConnection } from '../../src/infra/redis-connection';
import { createRedisLock } from '../../src/infra/redis-lock';
import type { Deactivation, StepName } from '../../src/models/deactivation.model';
import type { User } from '../../src/models/user.model';
import { enqueueRun, runFlow } from '../../src/deactivation/deactivation-flow.job';
import { runJobId, stepJobId } from '../../src/queues/job-ids';
import { queueNames } from '../../src/queues/queue-names';
import {
  daysAgo,
  insertFixtures,
  newId,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import {
  acceptWithoutWorkers,
  openIdleProducer,
  startTestWorkers,
  waitForRunJobFinished,
  waitForRunStatus,
} from '../support/run-helpers';
import { deletePrefix } from '../../test-kit/redis-keys';
import { openTestRedis, openTestStore, redisUrl, type TestStore } from '../support/test-env';
import type { RedisClient } from '../../src/infra/redis-connection';

let store: TestStore;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;
let producer: RedisClient;
let flows: FlowProducer;
let stepsQueue: Queue;
let runsQueue: Queue;

beforeAll(async () => {
  store = await openTestStore('engine');
  workers = await startTestWorkers(store);
  const prefix = workers.config.queuePrefix;
  producer = createRedisConnection(redisUrl, 'producer');
  flows = new FlowProducer({ connection: producer, prefix });
  stepsQueue = new Queue(queueNames.steps, { connection: producer, prefix });
  runsQueue = new Queue(queueNames.runs, { connection: producer, prefix });
});

afterAll(async () => {
  await workers.close();
  await Promise.all([flows.close(), stepsQueue.close(), runsQueue.close()]);
  producer.disconnect();
  const redis = openTestRedis();
  await deletePrefix(redis, workers.config.queuePrefix);
  redis.disconnect();
  await store.close();
});

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const hourFromNow = (): Date => new Date(Date.now() + 60 * 60 * 1000);

/** An organization with an admin who acts. */
async function newOrg(): Promise<{ orgId: string; actorId: string }> {
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  await insertFixtures(store.models, { organizations: [org], users: [actor] });
  return { orgId: org._id, actorId: actor._id };
}

function accept(
  orgId: string,
  userId: string,
  actorId: string,
  extra: { allowReactivationOnPurchase?: boolean } = {},
): Promise<Deactivation> {
  return requestDeactivation(
    {
      models: store.models,
      flows,
      locks: createRedisLock(producer, { prefix: workers.config.queuePrefix }),
    },
    { orgId, userId, actorId, source: 'api', reason: 'left the company', ...extra },
  );
}

const stepOf = (run: Deactivation, name: StepName) => run.steps.find((step) => step.name === name)!;

async function openOpportunities(ownerId: string, count: number, orgId: string) {
  const list = Array.from({ length: count }, () => opportunityFixture(orgId, ownerId));
  await insertFixtures(store.models, { opportunities: list });
  return list.map((opportunity) => opportunity._id);
}

describe('the deactivation engine with real workers', () => {
  it('carries out every step of an employee exactly as the contract says', async () => {
    const { models } = store;
    const { orgId, actorId } = await newOrg();
    const tag = newId('jd');
    const user = userFixture(orgId, { email: `  Jane.Doe+${tag}@Example.COM ` });
    const normalizedEmail = `jane.doe+${tag}@example.com`;
    const peer = userFixture(orgId);
    const firstLeader = userFixture(orgId, { role: 'manager' });
    const secondLeader = userFixture(orgId, { role: 'manager' });
    // The _ids sort the other way round: only createdAt makes the first team first.
    const firstTeam = teamFixture(orgId, {
      _id: `team_z_${tag}`,
      leaderId: firstLeader._id,
      memberIds: [peer._id, user._id],
      createdAt: daysAgo(10),
    });
    const secondTeam = teamFixture(orgId, {
      _id: `team_a_${tag}`,
      leaderId: secondLeader._id,
      memberIds: [user._id, peer._id],
      createdAt: daysAgo(5),
    });
    const liveTokens = [
      tokenFixture(orgId, user._id, { type: 'session' }),
      tokenFixture(orgId, user._id, { type: 'refresh' }),
      tokenFixture(orgId, user._id, { type: 'api_key', issuedAt: daysAgo(200) }),
    ];
    const earlierRevokedAt = daysAgo(3);
    const revokedEarlier = tokenFixture(orgId, user._id, {
      type: 'session',
      issuedAt: daysAgo(4),
      revokedAt: earlierRevokedAt,
      revokedReason: 'logout',
    });
    // Issued after the run's cutoff (which is the moment of the request).
    const issuedLater = tokenFixture(orgId, user._id, { type: 'session', issuedAt: hourFromNow() });
    const peerToken = tokenFixture(orgId, peer._id);
    const cancellable = (['active', 'trialing', 'past_due'] as const).map((status) =>
      subscriptionFixture(orgId, user._id, { status }),
    );
    const earlierCanceledAt = daysAgo(20);
    const alreadyCanceled = subscriptionFixture(orgId, user._id, {
      status: 'canceled',
      canceledAt: earlierCanceledAt,
      cancelReason: 'customer_request',
    });
    const peerSubscription = subscriptionFixture(orgId, peer._id);
    const open = [0, 1, 2].map(() => opportunityFixture(orgId, user._id));
    const won = opportunityFixture(orgId, user._id, { status: 'won' });
    const lost = opportunityFixture(orgId, user._id, { status: 'lost' });
    const peerOpportunity = opportunityFixture(orgId, peer._id);
    await insertFixtures(models, {
      users: [user, peer, firstLeader, secondLeader],
      teams: [secondTeam, firstTeam],
      tokens: [...liveTokens, revokedEarlier, issuedLater, peerToken],
      subscriptions: [...cancellable, alreadyCanceled, peerSubscription],
      opportunities: [...open, won, lost, peerOpportunity],
    });

    // Another system sharing the database wrote the address unnormalized: the blocklist must
    // still key it by the normalized form.
    await store.mongo
      .db!.collection('users')
      .updateOne({ _id: user._id as never }, { $set: { email: `  Jane.Doe+${tag}@Example.COM ` } });

    const accepted = await accept(orgId, user._id, actorId);
    expect(accepted.plan.cutoff.getTime()).toBeLessThan(issuedLater.issuedAt.getTime());
    expect(accepted.plan).toMatchObject({
      transferTo: firstLeader._id,
      transferTeamId: firstTeam._id,
      teamIds: expect.arrayContaining([firstTeam._id, secondTeam._id]),
      // A run's plan does not count (a dry run does): the results below say what changed.
      counts: null,
    });
    const run = await waitForRunStatus(models, accepted._id, 'completed');

    // The run and every step.
    expect(run.completedAt).toBeInstanceOf(Date);
    expect(run.steps.map((step) => [step.name, step.status, step.attempts, step.error])).toEqual([
      ['revoke-tokens', 'completed', 1, null],
      ['cancel-subscriptions', 'completed', 1, null],
      ['transfer-opportunities', 'completed', 1, null],
      ['remove-from-teams', 'completed', 1, null],
      ['blocklist-email', 'completed', 1, null],
    ]);
    expect(run.steps.map((step) => step.result)).toEqual([
      { revoked: 3 },
      { canceled: 3 },
      { transferred: 3, to: firstLeader._id, retained: 0 },
      { teams: 2 },
      { blocked: 1 },
    ]);
    for (const step of run.steps) expect(step.completedAt).toBeInstanceOf(Date);

    // The user.
    expect(await models.users.findById(user._id).lean()).toMatchObject({
      status: 'inactive',
      deactivatedBy: actorId,
      deactivationId: run._id,
      allowReactivationOnPurchase: false,
    });

    // Tokens: exactly the three live ones issued before the cutoff.
    const tokens = new Map(
      (await models.tokens.find({ orgId }).lean()).map((token) => [token._id, token]),
    );
    for (const token of liveTokens) {
      expect(tokens.get(token._id)?.revokedAt).toBeInstanceOf(Date);
      expect(tokens.get(token._id)?.revokedReason).toBe('user_deactivated');
    }
    expect(tokens.get(revokedEarlier._id)).toMatchObject({
      revokedAt: earlierRevokedAt,
      revokedReason: 'logout',
    });
    expect(tokens.get(issuedLater._id)).toMatchObject({ revokedAt: null, revokedReason: null });
    expect(tokens.get(peerToken._id)).toMatchObject({ revokedAt: null, revokedReason: null });

    // Subscriptions: the three cancellable ones.
    const subscriptions = new Map(
      (await models.subscriptions.find({ orgId }).lean()).map((sub) => [sub._id, sub]),
    );
    for (const subscription of cancellable) {
      const stored = subscriptions.get(subscription._id);
      expect(stored).toMatchObject({ status: 'canceled', cancelReason: 'user_deactivated' });
      expect(stored?.canceledAt).toBeInstanceOf(Date);
    }
    expect(subscriptions.get(alreadyCanceled._id)).toMatchObject({
      status: 'canceled',
      canceledAt: earlierCanceledAt,
      cancelReason: 'customer_request',
    });
    expect(subscriptions.get(peerSubscription._id)).toMatchObject({
      status: 'active',
      canceledAt: null,
      cancelReason: null,
    });

    // Opportunities: open ones to the first team's leader, with one transfer entry each.
    const opportunities = new Map(
      (await models.opportunities.find({ orgId }).lean()).map((opp) => [opp._id, opp]),
    );
    for (const opportunity of open) {
      const stored = opportunities.get(opportunity._id)!;
      expect(stored.ownerId).toBe(firstLeader._id);
      expect(stored.transfers).toHaveLength(1);
      expect(stored.transfers[0]).toEqual({
        from: user._id,
        to: firstLeader._id,
        at: expect.any(Date),
        deactivationId: run._id,
      });
    }
    for (const closed of [won, lost]) {
      expect(opportunities.get(closed._id)).toMatchObject({ ownerId: user._id, transfers: [] });
    }
    expect(opportunities.get(peerOpportunity._id)).toMatchObject({
      ownerId: peer._id,
      transfers: [],
    });

    // Teams: the user is gone from both, everyone else stays.
    const teams = await models.teams.find({ orgId }).sort({ createdAt: 1 }).lean();
    expect(teams.map((team) => [team._id, team.leaderId, team.memberIds])).toEqual([
      [firstTeam._id, firstLeader._id, [peer._id]],
      [secondTeam._id, secondLeader._id, [peer._id]],
    ]);

    // Blocklist: one entry, keyed by the hash of the normalized email.
    const entries = await models.blocklist.find({ orgId }).lean();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      orgId,
      emailHash: sha256(normalizedEmail),
      email: normalizedEmail,
      reason: expect.any(String),
      createdBy: actorId,
      deactivationId: run._id,
    });
    expect(entries[0]!.reason).not.toBe('');

    // Audit: one event of each type for the run.
    const events = await models.auditEvents.find({ 'data.deactivationId': run._id }).lean();
    expect(events.map((event) => event.type).sort()).toEqual([
      'deactivation.completed',
      'opportunities.transferred',
      'user.deactivated',
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ orgId, actorId, subjectId: user._id });
    }
    expect(events.find((event) => event.type === 'opportunities.transferred')?.data).toMatchObject({
      to: firstLeader._id,
      count: 3,
    });
    // Audit events keep ids, never personal data.
    expect(JSON.stringify(events)).not.toContain(normalizedEmail);
  });

  describe('transfer target, end to end', () => {
    it("skips the first team's inactive leader and takes the second team's leader", async () => {
      const { models } = store;
      const { orgId, actorId } = await newOrg();
      const user = userFixture(orgId);
      const goneLeader = userFixture(orgId, { role: 'manager', status: 'inactive' });
      const nextLeader = userFixture(orgId, { role: 'manager' });
      const firstTeam = teamFixture(orgId, {
        leaderId: goneLeader._id,
        memberIds: [user._id],
        createdAt: daysAgo(9),
      });
      const secondTeam = teamFixture(orgId, {
        leaderId: nextLeader._id,
        memberIds: [user._id],
        createdAt: daysAgo(8),
      });
      await insertFixtures(models, {
        users: [user, goneLeader, nextLeader],
        teams: [secondTeam, firstTeam],
      });
      const opportunityIds = await openOpportunities(user._id, 2, orgId);

      const run = await waitForRunStatus(
        models,
        (await accept(orgId, user._id, actorId))._id,
        'completed',
      );
      expect(stepOf(run, 'transfer-opportunities').result).toEqual({
        transferred: 2,
        to: nextLeader._id,
        retained: 0,
      });
      const stored = await models.opportunities.find({ _id: { $in: opportunityIds } }).lean();
      expect(stored.map((opp) => opp.ownerId)).toEqual([nextLeader._id, nextLeader._id]);
      expect(stored.map((opp) => opp.transfers.length)).toEqual([1, 1]);
      expect(stepOf(run, 'remove-from-teams').result).toEqual({ teams: 2 });
    });

    it("gives a user in no team to the leader of the organization's first team", async () => {
      const { models } = store;
      const { orgId, actorId } = await newOrg();
      const user = userFixture(orgId);
      const firstLeader = userFixture(orgId, { role: 'manager' });
      const laterLeader = userFixture(orgId, { role: 'manager' });
      const teams = [
        teamFixture(orgId, { leaderId: laterLeader._id, createdAt: daysAgo(1) }),
        teamFixture(orgId, { leaderId: firstLeader._id, createdAt: daysAgo(30) }),
        teamFixture(orgId, { leaderId: null, createdAt: daysAgo(60) }),
      ];
      await insertFixtures(models, { users: [user, firstLeader, laterLeader], teams });
      const opportunityIds = await openOpportunities(user._id, 2, orgId);

      const run = await waitForRunStatus(
        models,
        (await accept(orgId, user._id, actorId))._id,
        'completed',
      );
      expect(stepOf(run, 'transfer-opportunities').result).toEqual({
        transferred: 2,
        to: firstLeader._id,
        retained: 0,
      });
      expect(stepOf(run, 'remove-from-teams').result).toEqual({ teams: 0 });
      const stored = await models.opportunities.find({ _id: { $in: opportunityIds } }).lean();
      expect(stored.map((opp) => opp.ownerId)).toEqual([firstLeader._id, firstLeader._id]);
    });

    it('retains the opportunities when no team has an active leader', async () => {
      const { models } = store;
      const { orgId, actorId } = await newOrg();
      const user = userFixture(orgId);
      const goneLeader = userFixture(orgId, { role: 'manager', status: 'inactive' });
      const teams = [
        teamFixture(orgId, {
          leaderId: goneLeader._id,
          memberIds: [user._id],
          createdAt: daysAgo(5),
        }),
        teamFixture(orgId, { leaderId: null, memberIds: [user._id], createdAt: daysAgo(4) }),
      ];
      await insertFixtures(models, { users: [user, goneLeader], teams });
      const opportunityIds = await openOpportunities(user._id, 3, orgId);

      const run = await waitForRunStatus(
        models,
        (await accept(orgId, user._id, actorId))._id,
        'completed',
      );
      expect(run.plan.transferTo).toBeNull();
      expect(stepOf(run, 'transfer-opportunities')).toMatchObject({
        status: 'completed',
        result: { transferred: 0, to: null, retained: 3 },
      });
      const stored = await models.opportunities.find({ _id: { $in: opportunityIds } }).lean();
      expect(stored.map((opp) => [opp.ownerId, opp.transfers.length])).toEqual([
        [user._id, 0],
        [user._id, 0],
        [user._id, 0],
      ]);
      expect(stepOf(run, 'remove-from-teams').result).toEqual({ teams: 2 });
      expect(
        await models.auditEvents.countDocuments({ _id: `${run._id}.opportunities.transferred` }),
      ).toBe(0);
      expect(await models.auditEvents.countDocuments({ 'data.deactivationId': run._id })).toBe(2);
    });
  });

  describe('customers', () => {
    async function customerWithEverything(orgId: string): Promise<User> {
      const customer = userFixture(orgId, { kind: 'customer' });
      await insertFixtures(store.models, {
        users: [customer],
        tokens: [
          tokenFixture(orgId, customer._id),
          tokenFixture(orgId, customer._id, { type: 'refresh' }),
        ],
        subscriptions: [subscriptionFixture(orgId, customer._id)],
      });
      return customer;
    }

    it('runs only revoke-tokens, cancel-subscriptions and blocklist-email', async () => {
      const { models } = store;
      const { orgId, actorId } = await newOrg();
      const customer = await customerWithEverything(orgId);

      const run = await waitForRunStatus(
        models,
        (await accept(orgId, customer._id, actorId))._id,
        'completed',
      );
      expect(run.steps.map((step) => [step.name, step.status, step.attempts, step.result])).toEqual(
        [
          ['revoke-tokens', 'completed', 1, { revoked: 2 }],
          ['cancel-subscriptions', 'completed', 1, { canceled: 1 }],
          ['transfer-opportunities', 'skipped', 0, null],
          ['remove-from-teams', 'skipped', 0, null],
          ['blocklist-email', 'completed', 1, { blocked: 1 }],
        ],
      );
      expect(
        await models.blocklist.countDocuments({ orgId, emailHash: sha256(customer.email!) }),
      ).toBe(1);
      expect(await models.tokens.countDocuments({ userId: customer._id, revokedAt: null })).toBe(0);
    });

    it('with allowReactivationOnPurchase skips the blocklist and remembers the choice', async () => {
      const { models } = store;
      const { orgId, actorId } = await newOrg();
      const customer = await customerWithEverything(orgId);

      const run = await waitForRunStatus(
        models,
        (await accept(orgId, customer._id, actorId, { allowReactivationOnPurchase: true }))._id,
        'completed',
      );
      expect(run.allowReactivationOnPurchase).toBe(true);
      expect(run.steps.map((step) => [step.name, step.status])).toEqual([
        ['revoke-tokens', 'completed'],
        ['cancel-subscriptions', 'completed'],
        ['transfer-opportunities', 'skipped'],
        ['remove-from-teams', 'skipped'],
        ['blocklist-email', 'skipped'],
      ]);
      expect(await models.blocklist.countDocuments({ orgId })).toBe(0);
      expect(await models.users.findById(customer._id).lean()).toMatchObject({
        status: 'inactive',
        allowReactivationOnPurchase: true,
      });
    });
  });

  it('fails a step on bad data at once, and a retry of that job finishes the run without repeating work', async () => {
    const { models } = store;
    const { orgId, actorId } = await newOrg();
    const leader = userFixture(orgId, { role: 'manager' });
    // No email: the blocklist step cannot do its work and waiting will not help.
    const user = userFixture(orgId, { email: '' });
    await insertFixtures(models, {
      users: [user, leader],
      teams: [teamFixture(orgId, { leaderId: leader._id, memberIds: [user._id] })],
      tokens: [tokenFixture(orgId, user._id)],
      subscriptions: [subscriptionFixture(orgId, user._id)],
    });
    const opportunityIds = await openOpportunities(user._id, 2, orgId);

    const accepted = await accept(orgId, user._id, actorId);
    const failed = await waitForRunStatus(models, accepted._id, 'failed');
    const blocklistStep = stepOf(failed, 'blocklist-email');
    expect(blocklistStep).toMatchObject({ status: 'failed', attempts: 1 });
    expect(blocklistStep.error).toMatch(/invalid_step_data/);
    expect(failed.steps.slice(0, 4).map((step) => [step.status, step.attempts])).toEqual([
      ['completed', 1],
      ['completed', 1],
      ['completed', 1],
      ['completed', 1],
    ]);
    // The run reads `failed` a moment before BullMQ does: the job still records the webhook
    // event (deactivation.failed) before its error reaches the worker.
    const stepJob = () => stepsQueue.getJob(stepJobId(accepted._id, 'blocklist-email'));
    for (let waited = 0; waited < 10_000 && (await (await stepJob())!.getState()) === 'active';) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      waited += 50;
    }
    const job = await stepJob();
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    expect(await (await runsQueue.getJob(runJobId(accepted._id)))!.getState()).toBe(
      'waiting-children',
    );
    const revokedAtBefore = (await models.tokens.findOne({ userId: user._id }).lean())!.revokedAt;

    // The operator fixes the data and retries the failed job (as the dashboard does).
    await models.users.updateOne(
      { _id: user._id },
      { $set: { email: `fixed.${user._id}@example.test` } },
    );
    await job!.retry();

    const completed = await waitForRunStatus(models, accepted._id, 'completed');
    expect(
      completed.steps.map((step) => [step.name, step.status, step.attempts, step.error]),
    ).toEqual([
      ['revoke-tokens', 'completed', 1, null],
      ['cancel-subscriptions', 'completed', 1, null],
      ['transfer-opportunities', 'completed', 1, null],
      ['remove-from-teams', 'completed', 1, null],
      ['blocklist-email', 'completed', 2, null],
    ]);
    expect(stepOf(completed, 'blocklist-email').result).toEqual({ blocked: 1 });
    expect(
      await models.blocklist.countDocuments({
        orgId,
        emailHash: sha256(`fixed.${user._id}@example.test`),
        deactivationId: accepted._id,
      }),
    ).toBe(1);
    expect((await models.tokens.findOne({ userId: user._id }).lean())!.revokedAt).toEqual(
      revokedAtBefore,
    );
    const opportunities = await models.opportunities.find({ _id: { $in: opportunityIds } }).lean();
    expect(opportunities.map((opp) => opp.transfers.length)).toEqual([1, 1]);
    expect(await models.auditEvents.countDocuments({ 'data.deactivationId': accepted._id })).toBe(
      3,
    );
  });

  it('lets the parent job wait, without failing, for a step that has not finished', async () => {
    const { models } = store;
    const { orgId, actorId } = await newOrg();
    const user = userFixture(orgId);
    await insertFixtures(models, { users: [user], tokens: [tokenFixture(orgId, user._id)] });
    const idle = openIdleProducer();
    const run = await acceptWithoutWorkers(
      models,
      idle,
      { orgId, userId: user._id, actorId, source: 'api', reason: null },
      new Date(),
      newId('run'),
    ).finally(() => idle.close());
    // A partial re-queue: the parent job is there while the steps' jobs are not yet.
    const flow = runFlow(run);
    await runsQueue.add(flow.name, flow.data, flow.opts);
    const parent = async () => (await runsQueue.getJob(runJobId(run._id)))!;
    for (let state = ''; state !== 'delayed'; state = await (await parent()).getState()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await models.deactivations.findById(run._id).lean())!.status).toBe('pending');

    // The steps arrive (the chain without its parent) and finish; the parent completes the run.
    await flows.add(flow.children![0]!);
    const done = await waitForRunStatus(models, run._id, 'completed');
    expect(done.steps.every((step) => step.status !== 'pending')).toBe(true);
    const job = await parent();
    for (let t = 0; (await job.getState()) !== 'completed' && t < 100; t += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // One attempt made (the one that completed); the waits spent none and left no error behind.
    const finished = (await parent()).toJSON();
    expect({
      state: await job.getState(),
      attemptsMade: finished.attemptsMade,
      failedReason: finished.failedReason,
      stacktrace: finished.stacktrace,
    }).toEqual({ state: 'completed', attemptsMade: 1, failedReason: undefined, stacktrace: [] });
    const { logs } = await runsQueue.getJobLogs(runJobId(run._id));
    expect(logs[0]).toMatch(/^waiting \d+ ms for steps not finished yet: revoke-tokens, /);
    expect(finished.returnvalue).toEqual({
      runId: run._id,
      status: 'completed',
      audit: ['user.deactivated', 'deactivation.completed'],
    });
  });

  describe('adding the same run twice', () => {
    async function employeeWithWork(orgId: string) {
      const leader = userFixture(orgId, { role: 'manager' });
      const user = userFixture(orgId);
      await insertFixtures(store.models, {
        users: [user, leader],
        teams: [teamFixture(orgId, { leaderId: leader._id, memberIds: [user._id] })],
        tokens: [tokenFixture(orgId, user._id), tokenFixture(orgId, user._id, { type: 'api_key' })],
        subscriptions: [subscriptionFixture(orgId, user._id)],
      });
      const opportunityIds = await openOpportunities(user._id, 3, orgId);
      return { user, leader, opportunityIds };
    }

    async function effects(orgId: string, userId: string) {
      const [tokens, opportunities, subscriptions, events] = await Promise.all([
        store.models.tokens.find({ userId }).sort({ _id: 1 }).lean(),
        store.models.opportunities.find({ orgId }).sort({ _id: 1 }).lean(),
        store.models.subscriptions.find({ userId }).sort({ _id: 1 }).lean(),
        store.models.auditEvents.find({ orgId, subjectId: userId }).sort({ _id: 1 }).lean(),
      ]);
      return {
        tokens: tokens.map((token) => [token._id, token.revokedAt?.getTime()]),
        transfers: opportunities.map((opp) => [opp._id, opp.ownerId, opp.transfers]),
        subscriptions: subscriptions.map((sub) => [sub._id, sub.status, sub.canceledAt?.getTime()]),
        events: events.map((event) => [event._id, event.at.getTime()]),
      };
    }

    async function jobsOf(runId: string) {
      const steps = await stepsQueue.getJobs([
        'completed',
        'waiting',
        'active',
        'delayed',
        'failed',
        'waiting-children',
      ]);
      const runs = await runsQueue.getJobs([
        'completed',
        'waiting',
        'active',
        'delayed',
        'failed',
        'waiting-children',
      ]);
      return [...runs, ...steps]
        .filter((job) => (job.data as { runId?: string }).runId === runId)
        .map((job) => [job.id, job.timestamp, job.processedOn, job.finishedOn, job.attemptsMade])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    }

    it('after completion adds nothing and changes nothing', async () => {
      const { orgId, actorId } = await newOrg();
      const { user, opportunityIds } = await employeeWithWork(orgId);
      const accepted = await accept(orgId, user._id, actorId);
      const done = await waitForRunStatus(store.models, accepted._id, 'completed');
      await waitForRunJobFinished(runsQueue, accepted._id);
      const before = await effects(orgId, user._id);
      const jobsBefore = await jobsOf(accepted._id);
      expect(jobsBefore).toHaveLength(6);

      await enqueueRun(flows, done);
      await enqueueRun(flows, accepted);
      // An add is atomic in Redis: a job it had created would be listed now (waiting, active,
      // or finished with new timestamps), so no waiting is needed to see that none was.
      expect(await jobsOf(accepted._id)).toEqual(jobsBefore);
      expect(await effects(orgId, user._id)).toEqual(before);
      const after = (await store.models.deactivations.findById(accepted._id).lean())!;
      expect(after.status).toBe('completed');
      expect(after.completedAt).toEqual(done.completedAt);
      expect(after.steps.map((step) => step.attempts)).toEqual([1, 1, 1, 1, 1]);
      const opportunities = await store.models.opportunities
        .find({ _id: { $in: opportunityIds } })
        .lean();
      expect(opportunities.map((opp) => opp.transfers.length)).toEqual([1, 1, 1]);
    });

    it('while it runs adds nothing and every effect happens once', async () => {
      const { orgId, actorId } = await newOrg();
      const { user, leader, opportunityIds } = await employeeWithWork(orgId);
      const accepted = await accept(orgId, user._id, actorId);
      await Promise.all([enqueueRun(flows, accepted), enqueueRun(flows, accepted)]);
      await enqueueRun(flows, accepted);

      const done = await waitForRunStatus(store.models, accepted._id, 'completed');
      expect(done.steps.map((step) => [step.status, step.attempts])).toEqual([
        ['completed', 1],
        ['completed', 1],
        ['completed', 1],
        ['completed', 1],
        ['completed', 1],
      ]);
      expect(await jobsOf(accepted._id)).toHaveLength(6);
      const opportunities = await store.models.opportunities
        .find({ _id: { $in: opportunityIds } })
        .lean();
      expect(opportunities.map((opp) => [opp.ownerId, opp.transfers.length])).toEqual([
        [leader._id, 1],
        [leader._id, 1],
        [leader._id, 1],
      ]);
      const revokedAt = (await store.models.tokens.find({ userId: user._id }).lean()).map((token) =>
        token.revokedAt?.getTime(),
      );
      expect(revokedAt).toHaveLength(2);
      expect(new Set(revokedAt).size).toBe(1);
      expect(revokedAt[0]).toEqual(expect.any(Number));
      expect(
        await store.models.auditEvents.countDocuments({ 'data.deactivationId': accepted._id }),
      ).toBe(3);
    });
  });
});
