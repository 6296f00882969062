import { hashEmail } from '../../src/domain/email';
import { stepNames } from '../../src/models/deactivation.model';
import {
  insertFixtures,
  newId,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import { openTestStore, type TestStore } from '../support/test-env';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore('models');
});
afterAll(async () => {
  await store.close();
});

describe('models on the real store', () => {
  it('writes and reads every domain collection with the contract field names', async () => {
    const { models } = store;
    const org = orgFixture();
    const user = userFixture(org._id, { email: '  Mixed.Case@Example.COM ' });
    const leader = userFixture(org._id, { role: 'manager' });
    const team = teamFixture(org._id, { leaderId: leader._id, memberIds: [user._id] });
    const opportunity = opportunityFixture(org._id, user._id);
    const subscription = subscriptionFixture(org._id, user._id, { status: 'past_due' });
    const token = tokenFixture(org._id, user._id, { type: 'api_key' });
    await insertFixtures(models, {
      organizations: [org],
      users: [user, leader],
      teams: [team],
      opportunities: [opportunity],
      subscriptions: [subscription],
      tokens: [token],
    });

    const raw = store.mongo.db!;
    const storedUser = await raw.collection('users').findOne({ _id: user._id as never });
    expect(storedUser).toMatchObject({
      _id: user._id,
      orgId: org._id,
      kind: 'employee',
      email: 'mixed.case@example.com',
      role: 'member',
      status: 'active',
      allowReactivationOnPurchase: false,
    });
    expect(storedUser?.lastLoginAt).toBeInstanceOf(Date);
    expect(await raw.collection('teams').findOne({ _id: team._id as never })).toMatchObject({
      leaderId: leader._id,
      memberIds: [user._id],
    });
    expect(
      await raw.collection('opportunities').findOne({ _id: opportunity._id as never }),
    ).toMatchObject({
      ownerId: user._id,
      status: 'open',
      transfers: [],
    });
    expect(
      await raw.collection('subscriptions').findOne({ _id: subscription._id as never }),
    ).toMatchObject({
      userId: user._id,
      status: 'past_due',
    });
    expect(await raw.collection('tokens').findOne({ _id: token._id as never })).toMatchObject({
      type: 'api_key',
      revokedAt: null,
    });
    expect(await raw.collection('organizations').findOne({ _id: org._id as never })).toMatchObject({
      name: 'Acme',
    });
  });

  it('stores a run with its plan and one record per step, addressable by index', async () => {
    const { models } = store;
    const runId = newId('run');
    await models.deactivations.create({
      _id: runId,
      claim: `org_x/usr_x/0/${runId}`,
      orgId: 'org_x',
      userId: 'usr_x',
      actorId: 'usr_admin',
      source: 'api',
      reason: null,
      allowReactivationOnPurchase: false,
      status: 'pending',
      plan: {
        userKind: 'employee',
        cutoff: new Date(),
        steps: Object.fromEntries(stepNames.map((name) => [name, true])),
        transferTo: null,
        transferTeamId: null,
        teamIds: [],
        counts: Object.fromEntries(stepNames.map((name) => [name, 0])),
      },
      steps: stepNames.map((name) => ({
        name,
        status: 'pending',
        attempts: 0,
        result: null,
        error: null,
        completedAt: null,
      })),
      createdAt: new Date(),
      completedAt: null,
    });
    // FerretDB v1 ignores the positional `$`: steps are addressed by their fixed index.
    await models.deactivations.updateOne(
      { _id: runId, 'steps.2.status': 'pending' },
      {
        $set: { 'steps.2.status': 'completed', 'steps.2.result': { transferred: 3 } },
        $inc: { 'steps.2.attempts': 1 },
      },
    );
    const run = await models.deactivations.findById(runId).lean();
    expect(run?.steps.map((step) => step.name)).toEqual([...stepNames]);
    expect(run?.steps[2]).toMatchObject({
      status: 'completed',
      attempts: 1,
      result: { transferred: 3 },
    });
    expect(run?.steps[0]?.status).toBe('pending');
    expect(run?.plan.cutoff).toBeInstanceOf(Date);
  });

  it('rejects a second blocklist entry for the same organization and email hash', async () => {
    const { models } = store;
    const entry = {
      orgId: 'org_block',
      emailHash: hashEmail('someone@example.com'),
      email: 'someone@example.com',
      reason: 'user_deactivated',
      createdAt: new Date(),
      createdBy: 'usr_admin',
      deactivationId: 'run_1',
    };
    await models.blocklist.create({ _id: newId('blk'), ...entry });
    await expect(models.blocklist.create({ _id: newId('blk'), ...entry })).rejects.toMatchObject({
      code: 11000,
    });
    // The same address in another organization is a different entry.
    await expect(
      models.blocklist.create({ _id: newId('blk'), ...entry, orgId: 'org_other' }),
    ).resolves.toBeDefined();
    expect(await models.blocklist.countDocuments({ emailHash: entry.emailHash })).toBe(2);
  });

  it('stores audit events, API keys and idempotency records', async () => {
    const { models } = store;
    await models.auditEvents.create({
      _id: newId('evt'),
      orgId: 'org_a',
      type: 'user.deactivated',
      actorId: 'usr_admin',
      subjectId: 'usr_x',
      at: new Date(),
      data: { deactivationId: 'run_1' },
    });
    expect(await models.auditEvents.findOne({ subjectId: 'usr_x' }).lean()).toMatchObject({
      type: 'user.deactivated',
      data: { deactivationId: 'run_1' },
    });
    await models.idempotencyRecords.create({
      _id: 'idem_1',
      requestHash: 'abc',
      state: 'in_flight',
      expiresAt: new Date(Date.now() + 1000),
    });
    expect(await models.idempotencyRecords.findById('idem_1').lean()).toMatchObject({
      state: 'in_flight',
    });
  });
});
