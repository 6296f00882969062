import {
  assessDeactivation,
  assessDeactivations,
} from '../../src/deactivation/assess-deactivation';
import type { Models } from '../../src/models/create-models';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import {
  openMonitoredModels,
  type MonitoredModels,
  type SentCommand,
} from '../support/monitored-models';
import { openTestStore, type TestStore } from '../support/test-env';

/* When the assessment issues its reads: a dry run's plan counts go out with its first reads
   (they overlap the rules' rounds); a counting batch counts only the users its rules accepted;
   a run's assessment (counts: false) counts nothing. */

let store: TestStore;
let monitored: MonitoredModels;
let models: Models;
let started: SentCommand[];

beforeAll(async () => {
  store = await openTestStore('assessreads');
  // What the code under test sends, in the order it sends it.
  monitored = await openMonitoredModels(store.dbName);
  models = monitored.models;
  started = monitored.sent;
});
afterAll(async () => {
  await monitored.close();
  await store.close();
});

/** The position of the first read (find or count) sent to `collection`, or -1. */
function firstOn(collection: string): number {
  return started.findIndex(
    (command) =>
      (command.name === 'find' || command.name === 'aggregate') &&
      command.collection === collection,
  );
}

/** An organization with an admin and a member of a team (3 tokens, 2 subscriptions, 4 opportunities). */
async function seed(key: string) {
  const org = orgFixture({ _id: `org_${key}` });
  const admin = userFixture(org._id, { _id: `adm_${key}`, role: 'admin' });
  const leader = userFixture(org._id, { _id: `lead_${key}`, role: 'manager' });
  const member = userFixture(org._id, { _id: `usr_${key}` });
  const refused = userFixture(org._id, { _id: `gone_${key}`, status: 'inactive' });
  await insertFixtures(store.models, {
    organizations: [org],
    users: [admin, leader, member, refused],
    teams: [teamFixture(org._id, { leaderId: leader._id, memberIds: [member._id] })],
    tokens: [0, 1, 2].map((i) => tokenFixture(org._id, member._id, { _id: `tok${i}_${key}` })),
    subscriptions: [0, 1].map((i) =>
      subscriptionFixture(org._id, member._id, { _id: `sub${i}_${key}` }),
    ),
    opportunities: [0, 1, 2, 3].map((i) =>
      opportunityFixture(org._id, member._id, { _id: `opp${i}_${key}` }),
    ),
  });
  return { org, admin, member, refused };
}

describe('the assessment of a single request', () => {
  it('sends its plan counts before the rules read the teams, and they are the same counts', async () => {
    const { org, admin, member } = await seed('single');
    started.length = 0;
    const { plan } = await assessDeactivation(
      models,
      { orgId: org._id, userId: member._id, actorId: admin._id, source: 'api' },
      new Date(),
      { counts: true },
    );
    expect(plan.counts).toMatchObject({
      'revoke-tokens': 3,
      'cancel-subscriptions': 2,
      'transfer-opportunities': 4,
      'remove-from-teams': 1,
    });
    const teams = firstOn('teams');
    expect(teams).toBeGreaterThan(-1);
    for (const counted of ['tokens', 'subscriptions', 'opportunities']) {
      // As a pair, so a failure names the collection.
      expect([counted, firstOn(counted) > -1 && firstOn(counted) < teams]).toEqual([counted, true]);
    }
  });

  it('still answers its refusal when the user is refused (the early counts are dropped)', async () => {
    const { org, admin, refused } = await seed('refused');
    await expect(
      assessDeactivation(
        models,
        { orgId: org._id, userId: refused._id, actorId: admin._id, source: 'api' },
        new Date(),
        { counts: true },
      ),
    ).rejects.toMatchObject({ code: 'already_inactive' });
  });
});

describe('the assessment of a batch', () => {
  it('counts only the users its rules accepted, after the rules', async () => {
    const { org, admin, member, refused } = await seed('batch');
    started.length = 0;
    const outcomes = await assessDeactivations(
      models,
      { orgId: org._id, actorId: admin._id, userIds: [member._id, refused._id], counts: true },
      new Date(),
    );
    expect(outcomes.get(member._id)?.ok).toBe(true);
    expect(outcomes.get(refused._id)?.ok).toBe(false);
    const tokenCounts = started.filter(
      (command) => command.name === 'aggregate' && command.collection === 'tokens',
    );
    expect(tokenCounts).toHaveLength(1);
    expect(firstOn('tokens')).toBeGreaterThan(firstOn('teams'));
  });

  it('counts nothing for a bulk (counts: false): the plans say null, the rest is the same', async () => {
    const { org, admin, member } = await seed('bulk');
    started.length = 0;
    const outcomes = await assessDeactivations(
      models,
      { orgId: org._id, actorId: admin._id, userIds: [member._id], counts: false },
      new Date(),
    );
    const outcome = outcomes.get(member._id);
    if (!outcome?.ok) throw new Error('the member was refused');
    expect(outcome.assessment.plan.counts).toBeNull();
    expect(outcome.assessment.plan.teamIds).toHaveLength(1);
    expect(outcome.assessment.plan.transferTo).toBe(`lead_bulk`);
    for (const collection of ['tokens', 'subscriptions', 'opportunities', 'blocklist']) {
      expect([collection, firstOn(collection)]).toEqual([collection, -1]);
    }
  });
});
