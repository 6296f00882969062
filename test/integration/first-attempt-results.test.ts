import { stepTable } from '../../src/deactivation/deactivation-flow.job';
import { runStepRecord } from '../../src/deactivation/run-steps';
import type { StepInput } from '../../src/deactivation/steps/step';
import type { RedisClient } from '../../src/infra/redis-connection';
import { createRedisLock, type KeyedLock } from '../../src/infra/redis-lock';
import type { Deactivation } from '../../src/models/deactivation.model';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import { acceptWithoutWorkers, openIdleProducer, type IdleProducer } from '../support/run-helpers';
import { openMonitoredModels, type MonitoredModels } from '../support/monitored-models';
import { openTestRedis, openTestStore, uniqueName, type TestStore } from '../support/test-env';

let store: TestStore;
let redis: RedisClient;
let locks: KeyedLock;
let idle: IdleProducer;
beforeAll(async () => {
  store = await openTestStore('firstattempt');
  redis = openTestRedis();
  locks = createRedisLock(redis, { prefix: uniqueName('locks') });
  idle = openIdleProducer();
});
afterAll(async () => {
  await store.close();
  await idle.close();
  await redis.quit();
});

/** A member with 3 tokens, 2 subscriptions and 2 open opportunities, accepted (no workers). */
async function acceptedRun(
  key: string,
  options: { allowReactivationOnPurchase?: boolean } = {},
): Promise<Deactivation> {
  const org = orgFixture({ _id: `org_${key}` });
  const user = userFixture(org._id, { _id: `usr_${key}` });
  const admin = userFixture(org._id, { _id: `adm_${key}`, role: 'admin' });
  const leader = userFixture(org._id, { _id: `lead_${key}`, role: 'manager' });
  await insertFixtures(store.models, {
    organizations: [org],
    users: [user, admin, leader],
    teams: [
      teamFixture(org._id, { _id: `team_${key}`, leaderId: leader._id, memberIds: [user._id] }),
    ],
    tokens: [0, 1, 2].map((i) => tokenFixture(org._id, user._id, { _id: `tok${i}_${key}` })),
    subscriptions: [0, 1].map((i) =>
      subscriptionFixture(org._id, user._id, { _id: `sub${i}_${key}` }),
    ),
    opportunities: [0, 1].map((i) =>
      opportunityFixture(org._id, user._id, { _id: `opp${i}_${key}` }),
    ),
  });
  return acceptWithoutWorkers(
    store.models,
    idle,
    {
      orgId: org._id,
      userId: user._id,
      actorId: admin._id,
      source: 'api',
      allowReactivationOnPurchase: options.allowReactivationOnPurchase ?? false,
    },
    new Date(),
    `run_${key}`,
  );
}

function input(run: Deactivation, firstAttempt: boolean): StepInput {
  return {
    runId: run._id,
    orgId: run.orgId,
    userId: run.userId,
    actorId: run.actorId,
    plan: run.plan,
    apply: true,
    firstAttempt,
    now: new Date(),
  };
}

describe('step results of a first attempt', () => {
  it('report what the attempt modified; a later attempt counts every document of the run', async () => {
    const run = await acceptedRun('own');
    const { orgId, userId } = run;
    // Documents already carrying the run's id, as an earlier attempt would have left them.
    await insertFixtures(store.models, {
      tokens: [
        tokenFixture(orgId, userId, {
          _id: 'tok_earlier_own',
          revokedAt: new Date(),
          revokedReason: 'user_deactivated',
          revokedByDeactivationId: run._id,
        }),
      ],
      subscriptions: [
        subscriptionFixture(orgId, userId, {
          _id: 'sub_earlier_own',
          status: 'canceled',
          canceledAt: new Date(),
          cancelReason: 'user_deactivated',
          cancelDeactivationId: run._id,
        }),
      ],
      opportunities: [
        opportunityFixture(orgId, run.plan.transferTo ?? '', {
          _id: 'opp_earlier_own',
          transferDeactivationIds: [run._id],
        }),
      ],
    });
    const deps = { models: store.models, locks };
    expect(await stepTable['revoke-tokens'](input(run, true), deps)).toEqual({ revoked: 3 });
    expect(await stepTable['revoke-tokens'](input(run, false), deps)).toEqual({ revoked: 4 });
    expect(await stepTable['cancel-subscriptions'](input(run, true), deps)).toEqual({
      canceled: 2,
    });
    expect(await stepTable['cancel-subscriptions'](input(run, false), deps)).toEqual({
      canceled: 3,
    });
    const to = run.plan.transferTo;
    expect(await stepTable['transfer-opportunities'](input(run, true), deps)).toEqual({
      transferred: 2,
      to,
      retained: 0,
    });
    expect(await stepTable['transfer-opportunities'](input(run, false), deps)).toEqual({
      transferred: 3,
      to,
      retained: 0,
    });
    expect(await stepTable['blocklist-email'](input(run, true), deps)).toEqual({ blocked: 1 });
    expect(await stepTable['blocklist-email'](input(run, true), deps)).toEqual({ blocked: 0 });
    expect(await stepTable['blocklist-email'](input(run, false), deps)).toEqual({ blocked: 1 });
  });

  it('equal the counts of a re-run on a clean run', async () => {
    const run = await acceptedRun('clean');
    const deps = { models: store.models, locks };
    for (const step of [
      'revoke-tokens',
      'cancel-subscriptions',
      'transfer-opportunities',
      'remove-from-teams',
      'blocklist-email',
    ] as const) {
      const first = await stepTable[step](input(run, true), deps);
      expect({ step, result: await stepTable[step](input(run, false), deps) }).toEqual({
        step,
        result: first,
      });
    }
  });
});

describe('remove-from-teams', () => {
  let monitored: MonitoredModels;
  beforeAll(async () => {
    monitored = await openMonitoredModels(store.dbName);
  });
  afterAll(async () => {
    await monitored.close();
  });
  /** What the step sent to the teams collection since the last call. */
  const sent = (): string[] => {
    const names = monitored.sent
      .filter((command) => command.collection === 'teams')
      .map((command) => command.name);
    monitored.sent.length = 0;
    return names;
  };

  it('reports the planned teams on a first attempt without reading them again; a later attempt reads them', async () => {
    const run = await acceptedRun('teams');
    sent();
    const deps = { models: monitored.models, locks };
    expect(await stepTable['remove-from-teams'](input(run, true), deps)).toEqual({ teams: 1 });
    expect(sent()).toEqual(['update']);
    expect(await store.models.teams.findById('team_teams').lean()).toMatchObject({
      memberIds: [],
    });
    expect(await stepTable['remove-from-teams'](input(run, false), deps)).toEqual({ teams: 1 });
    expect(sent()).toEqual(['update', 'find']);
  });

  it('checks each planned team on a first attempt whose pull did not match the plan', async () => {
    const run = await acceptedRun('teamsleft');
    // The user left the planned team before the step ran: the pull modifies nothing.
    await store.models.teams.updateOne({ _id: 'team_teamsleft' }, { $set: { memberIds: [] } });
    sent();
    const deps = { models: monitored.models, locks };
    expect(await stepTable['remove-from-teams'](input(run, true), deps)).toEqual({ teams: 1 });
    expect(sent()).toEqual(['update', 'find']);
  });
});

describe("a step's record", () => {
  it('is marked running by the write that returns the run as it was', async () => {
    const run = await acceptedRun('start', { allowReactivationOnPurchase: true });
    const record = runStepRecord(store.models, run._id, 'revoke-tokens');
    const before = await record.start();
    expect(before?.steps[0]).toMatchObject({ name: 'revoke-tokens', attempts: 0 });
    const stored = await store.models.deactivations.findById(run._id).lean();
    expect(stored?.status).toBe('running');
    expect(stored?.steps[0]).toMatchObject({ status: 'running', attempts: 1 });
    expect(await record.complete({ revoked: 3 }, new Date(), true)).toBe(true);
    // Completed: no attempt starts again.
    expect(await record.start()).toBeNull();
    // Skipped by the plan (reactivation on purchase): never started.
    expect(await runStepRecord(store.models, run._id, 'blocklist-email').start()).toBeNull();
  });

  it("takes a first attempt's result only while no other attempt has started", async () => {
    const run = await acceptedRun('sole');
    const record = runStepRecord(store.models, run._id, 'cancel-subscriptions');
    await record.start();
    await record.start(); // a stalled job's duplicate
    expect(await record.complete({ canceled: 1 }, new Date(), true)).toBe(false);
    expect(await record.complete({ canceled: 2 }, new Date())).toBe(true);
    const stored = await store.models.deactivations.findById(run._id).lean();
    expect(stored?.steps[1]).toMatchObject({ status: 'completed', result: { canceled: 2 } });
  });
});
