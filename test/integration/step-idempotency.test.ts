import fc from 'fast-check';
import type { RedisClient } from '../../src/infra/redis-connection';
import { createRedisLock, type KeyedLock } from '../../src/infra/redis-lock';
import type { Models } from '../../src/models/create-models';
import { stepNames, type Deactivation, type StepName } from '../../src/models/deactivation.model';
import type { Opportunity } from '../../src/models/opportunity.model';
import type { SubscriptionStatus } from '../../src/models/subscription.model';
import type { TokenType } from '../../src/models/token.model';
import type { UserKind } from '../../src/models/user.model';
import { stepTable } from '../../src/deactivation/deactivation-flow.job';
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
import { deletePrefix } from '../../test-kit/redis-keys';
import {
  openTestRedis,
  openTestStore,
  uniqueName,
  uniquePrefix,
  type TestStore,
} from '../support/test-env';

/**
 * Two databases: fixtures with the same ids and runs with the same id and plan go into both, so
 * the state one sequence of step calls leaves in the first can be compared with the state a
 * clean run leaves in the second.
 */
let storeA: TestStore;
let storeB: TestStore;
let redis: RedisClient;
const lockPrefix = uniquePrefix('locks');
let locks: KeyedLock;
/** Runs are accepted through the real path; no worker serves this producer's queues. */
let idle: IdleProducer;
beforeAll(async () => {
  [storeA, storeB] = await Promise.all([openTestStore('stepsA'), openTestStore('stepsB')]);
  redis = openTestRedis();
  locks = createRedisLock(redis, { prefix: lockPrefix });
  idle = openIdleProducer();
});
afterAll(async () => {
  await Promise.all([storeA.close(), storeB.close()]);
  await idle.close();
  await deletePrefix(redis, lockPrefix);
  await redis.quit();
});

// ---------------------------------------------------------------------------------------------
// Fixtures

interface FixtureSpec {
  kind: UserKind;
  allowReactivationOnPurchase: boolean;
  /** `issuedMinutes` is relative to the run's cutoff: positive means issued after it. */
  tokens: { type: TokenType; issuedMinutes: number; revokedEarlier: boolean }[];
  subscriptions: SubscriptionStatus[];
  opportunities: Opportunity['status'][];
  /** `createdMinutes` may tie: the rule breaks ties by `_id`. */
  teams: {
    leader: 'active' | 'inactive' | 'none';
    userIsMember: boolean;
    createdMinutes: number;
  }[];
}

interface Prepared {
  run: Deactivation;
  orgId: string;
  userId: string;
}

const minute = 60_000;

/**
 * Inserts the spec's fixtures under ids derived from `key` and accepts the deactivation with
 * the given cutoff and run id (checks, run written, user inactive), without queueing anything.
 */
async function prepare(
  models: Models,
  spec: FixtureSpec,
  key: string,
  now: Date,
  runId: string,
): Promise<Prepared> {
  const org = orgFixture({ _id: `org_${key}` });
  const orgId = org._id;
  const user = userFixture(orgId, { _id: `usr_${key}`, kind: spec.kind });
  const actor = userFixture(orgId, { _id: `act_${key}`, role: 'admin' });
  const peer = userFixture(orgId, { _id: `peer_${key}` });
  const leaders = spec.teams.flatMap((team, index) =>
    team.leader === 'none'
      ? []
      : [
          userFixture(orgId, {
            _id: `lead${index}_${key}`,
            role: 'manager',
            status: team.leader === 'active' ? 'active' : 'inactive',
          }),
        ],
  );
  const teams = spec.teams.map((team, index) =>
    teamFixture(orgId, {
      _id: `team${index}_${key}`,
      leaderId: team.leader === 'none' ? null : `lead${index}_${key}`,
      memberIds: team.userIsMember ? [peer._id, user._id] : [peer._id],
      createdAt: new Date(now.getTime() - 24 * 60 * minute + team.createdMinutes * minute),
    }),
  );
  const tokens = spec.tokens.map((token, index) =>
    tokenFixture(orgId, user._id, {
      _id: `tok${index}_${key}`,
      type: token.type,
      issuedAt: new Date(now.getTime() + token.issuedMinutes * minute),
      ...(token.revokedEarlier
        ? { revokedAt: new Date(now.getTime() - 1_000 * minute), revokedReason: 'logout' }
        : {}),
    }),
  );
  const subscriptions = spec.subscriptions.map((status, index) =>
    subscriptionFixture(orgId, user._id, {
      _id: `sub${index}_${key}`,
      status,
      ...(status === 'canceled'
        ? { canceledAt: new Date(now.getTime() - 2_000 * minute), cancelReason: 'customer_request' }
        : {}),
    }),
  );
  const opportunities = spec.opportunities.map((status, index) =>
    opportunityFixture(orgId, user._id, { _id: `opp${index}_${key}`, status }),
  );
  await insertFixtures(models, {
    organizations: [org],
    users: [user, actor, peer, ...leaders],
    teams,
    tokens: [...tokens, tokenFixture(orgId, peer._id, { _id: `peertok_${key}` })],
    subscriptions: [
      ...subscriptions,
      subscriptionFixture(orgId, peer._id, { _id: `peersub_${key}` }),
    ],
    opportunities: [
      ...opportunities,
      opportunityFixture(orgId, peer._id, { _id: `peeropp_${key}` }),
    ],
  });
  await acceptWithoutWorkers(
    models,
    idle,
    {
      orgId,
      userId: user._id,
      actorId: actor._id,
      source: 'api',
      allowReactivationOnPurchase: spec.allowReactivationOnPurchase,
    },
    now,
    runId,
  );
  // The steps work from the run as stored, as the worker reads it.
  const run = (await models.deactivations.findById(runId).lean())!;
  return { run, orgId, userId: user._id };
}

/** Calls a step the way the worker does for a current run. */
function invoke(models: Models, run: Deactivation, step: StepName): Promise<unknown> {
  return stepTable[step](
    {
      runId: run._id,
      orgId: run.orgId,
      userId: run.userId,
      actorId: run.actorId,
      plan: run.plan,
      apply: true,
      now: new Date(),
    },
    { models, locks },
  );
}

const applicable = (run: Deactivation): StepName[] =>
  stepNames.filter((name) => run.plan.steps[name]);

// ---------------------------------------------------------------------------------------------
// State snapshots

async function snapshot(models: Models, orgId: string) {
  const byId = { _id: 1 } as const;
  const [tokens, subscriptions, opportunities, teams, blocklist, users] = await Promise.all([
    models.tokens.find({ orgId }).sort(byId).lean(),
    models.subscriptions.find({ orgId }).sort(byId).lean(),
    models.opportunities.find({ orgId }).sort(byId).lean(),
    models.teams.find({ orgId }).sort(byId).lean(),
    models.blocklist.find({ orgId }).sort(byId).lean(),
    models.users.find({ orgId }).sort(byId).lean(),
  ]);
  return { tokens, subscriptions, opportunities, teams, blocklist, users };
}

/** Timestamps become a marker (their presence still counts); generated blocklist ids go. */
function normalize(value: unknown): unknown {
  if (value instanceof Date) return '<date>';
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([field, inner]) => [field, normalize(inner)]),
    );
  }
  return value;
}

async function normalizedSnapshot(models: Models, orgId: string) {
  const state = await snapshot(models, orgId);
  return normalize({
    ...state,
    blocklist: state.blocklist.map(({ _id, ...entry }) => entry),
  });
}

/**
 * Transfer entries of the run: exactly one on each of the user's open opportunities once the
 * transfer step has run with a target, none anywhere otherwise.
 */
async function expectTransferEntries(
  models: Models,
  prepared: Prepared,
  transferRan: boolean,
): Promise<void> {
  const { run } = prepared;
  const opportunities = await models.opportunities.find({ orgId: prepared.orgId }).lean();
  for (const opportunity of opportunities) {
    const entries = opportunity.transfers.filter((entry) => entry.deactivationId === run._id);
    const wasUsersOpen = opportunity._id.startsWith('opp') && opportunity.status === 'open';
    const moved = transferRan && run.plan.transferTo !== null && wasUsersOpen;
    expect([opportunity._id, entries.length]).toEqual([opportunity._id, moved ? 1 : 0]);
    if (moved) expect(opportunity.ownerId).toBe(run.plan.transferTo);
  }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases

const richSpec: FixtureSpec = {
  kind: 'employee',
  allowReactivationOnPurchase: false,
  tokens: [
    { type: 'session', issuedMinutes: -60, revokedEarlier: false },
    { type: 'refresh', issuedMinutes: -30, revokedEarlier: false },
    { type: 'api_key', issuedMinutes: -50_000, revokedEarlier: false },
    { type: 'session', issuedMinutes: -100, revokedEarlier: true },
    { type: 'session', issuedMinutes: 60, revokedEarlier: false },
  ],
  subscriptions: ['active', 'trialing', 'past_due', 'canceled'],
  opportunities: ['open', 'open', 'open', 'won', 'lost'],
  teams: [
    { leader: 'inactive', userIsMember: true, createdMinutes: 0 },
    { leader: 'active', userIsMember: true, createdMinutes: 1 },
    { leader: 'active', userIsMember: false, createdMinutes: 2 },
  ],
};

/** What a clean run over {@link richSpec} reports: the second team's leader takes over. */
const richResults = (key: string): Record<StepName, unknown> => ({
  'revoke-tokens': { revoked: 3 },
  'cancel-subscriptions': { canceled: 3 },
  'transfer-opportunities': { transferred: 3, to: `lead1_${key}`, retained: 0 },
  'remove-from-teams': { teams: 2 },
  'blocklist-email': { blocked: 1 },
});

describe('each step on the real store', () => {
  it.each(stepNames)(
    '%s run twice in a row leaves the state of once and reports the same',
    async (step) => {
      const models = storeA.models;
      const key = uniqueName('seq');
      const runId = `run_${key}`;
      const prepared = await prepare(models, richSpec, key, new Date(), runId);
      const untouched = await snapshot(models, prepared.orgId);

      const first = await invoke(models, prepared.run, step);
      const afterOnce = await snapshot(models, prepared.orgId);
      expect(first).toEqual(richResults(key)[step]);
      // The step did change something, so the comparison below is not vacuous.
      expect(afterOnce).not.toEqual(untouched);

      const second = await invoke(models, prepared.run, step);
      expect(second).toEqual(first);
      // Exactly the same, timestamps included: a re-run writes nothing.
      expect(await snapshot(models, prepared.orgId)).toEqual(afterOnce);
      await expectTransferEntries(models, prepared, step === 'transfer-opportunities');
    },
  );

  it.each(stepNames)('%s run three times concurrently leaves the state of once', async (step) => {
    const key = uniqueName('conc');
    const runId = `run_${key}`;
    const now = new Date();
    const [once, concurrent] = await Promise.all([
      prepare(storeA.models, richSpec, key, now, runId),
      prepare(storeB.models, richSpec, key, now, runId),
    ]);
    expect(concurrent.run.plan).toEqual(once.run.plan);

    const single = await invoke(storeA.models, once.run, step);
    const results = await Promise.all([
      invoke(storeB.models, concurrent.run, step),
      invoke(storeB.models, concurrent.run, step),
      invoke(storeB.models, concurrent.run, step),
    ]);
    expect(single).toEqual(richResults(key)[step]);
    expect(results).toEqual([single, single, single]);
    expect(await normalizedSnapshot(storeB.models, concurrent.orgId)).toEqual(
      await normalizedSnapshot(storeA.models, once.orgId),
    );
    await expectTransferEntries(storeB.models, concurrent, step === 'transfer-opportunities');
  });

  it('all five steps at once, each duplicated, leave the state of a clean run', async () => {
    const key = uniqueName('all');
    const runId = `run_${key}`;
    const now = new Date();
    const [clean, messy] = await Promise.all([
      prepare(storeA.models, richSpec, key, now, runId),
      prepare(storeB.models, richSpec, key, now, runId),
    ]);
    const cleanResults: unknown[] = [];
    for (const step of stepNames) cleanResults.push(await invoke(storeA.models, clean.run, step));

    const messyResults = await Promise.all(
      [...stepNames, ...[...stepNames].reverse()].map((step) =>
        invoke(storeB.models, messy.run, step),
      ),
    );
    expect(messyResults.slice(0, 5)).toEqual(cleanResults);
    expect(messyResults.slice(5).reverse()).toEqual(cleanResults);
    expect(cleanResults).toEqual(stepNames.map((step) => richResults(key)[step]));
    expect(await normalizedSnapshot(storeB.models, messy.orgId)).toEqual(
      await normalizedSnapshot(storeA.models, clean.orgId),
    );
    await expectTransferEntries(
      storeB.models,
      messy,
      messy.run.plan.steps['transfer-opportunities'],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property: any schedule of repeated and interleaved step calls equals one clean run

const specArbitrary: fc.Arbitrary<FixtureSpec> = fc.record({
  kind: fc.constantFrom<UserKind>('employee', 'employee', 'customer'),
  allowReactivationOnPurchase: fc.boolean(),
  tokens: fc.array(
    fc.record({
      type: fc.constantFrom<TokenType>('session', 'refresh', 'api_key'),
      issuedMinutes: fc.integer({ min: -10_000, max: 120 }),
      revokedEarlier: fc.boolean(),
    }),
    { maxLength: 6 },
  ),
  subscriptions: fc.array(
    fc.constantFrom<SubscriptionStatus>('active', 'trialing', 'past_due', 'canceled'),
    { maxLength: 5 },
  ),
  opportunities: fc.array(fc.constantFrom<Opportunity['status']>('open', 'won', 'lost'), {
    maxLength: 6,
  }),
  teams: fc.array(
    fc.record({
      leader: fc.constantFrom('active' as const, 'inactive' as const, 'none' as const),
      userIsMember: fc.boolean(),
      createdMinutes: fc.integer({ min: 0, max: 3 }),
    }),
    { maxLength: 3 },
  ),
});

/**
 * A schedule: every step once in a random order, plus random repeats at random places, cut into
 * batches of 1-3 calls that run concurrently; batches run one after another.
 */
const scheduleArbitrary: fc.Arbitrary<StepName[][]> = fc
  .tuple(
    fc.shuffledSubarray([...stepNames], { minLength: stepNames.length }),
    fc.array(fc.tuple(fc.constantFrom(...stepNames), fc.nat()), { maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 12 }),
  )
  .map(([order, repeats, sizes]) => {
    const sequence: StepName[] = [...order];
    for (const [step, at] of repeats) sequence.splice(at % (sequence.length + 1), 0, step);
    const batches: StepName[][] = [];
    for (let start = 0, index = 0; start < sequence.length; index += 1) {
      const size = sizes[index % sizes.length]!;
      batches.push(sequence.slice(start, start + size));
      start += size;
    }
    return batches;
  });

describe('property: repeated and interleaved step calls', () => {
  it('leave the state and results of one clean run in contract order', async () => {
    await fc.assert(
      fc.asyncProperty(specArbitrary, scheduleArbitrary, async (spec, schedule) => {
        const key = uniqueName('prop');
        const runId = `run_${key}`;
        const now = new Date();
        const [clean, messy] = await Promise.all([
          prepare(storeA.models, spec, key, now, runId),
          prepare(storeB.models, spec, key, now, runId),
        ]);
        expect(messy.run.plan).toEqual(clean.run.plan);
        const steps = applicable(clean.run);

        const cleanResults = new Map<StepName, unknown>();
        for (const step of steps)
          cleanResults.set(step, await invoke(storeA.models, clean.run, step));

        const lastResults = new Map<StepName, unknown>();
        for (const batch of schedule) {
          const calls = batch.filter((step) => steps.includes(step));
          const results = await Promise.all(
            calls.map((step) => invoke(storeB.models, messy.run, step)),
          );
          calls.forEach((step, index) => lastResults.set(step, results[index]));
        }

        expect(lastResults).toEqual(cleanResults);
        expect(await normalizedSnapshot(storeB.models, messy.orgId)).toEqual(
          await normalizedSnapshot(storeA.models, clean.orgId),
        );
        await expectTransferEntries(
          storeB.models,
          messy,
          messy.run.plan.steps['transfer-opportunities'],
        );
      }),
      { numRuns: 15 },
    );
  });
});

describe('runs sharing a team', () => {
  it('members of one team leaving at the same moment all leave it', async () => {
    const { models } = storeA;
    const org = orgFixture();
    const actor = userFixture(org._id, { role: 'admin' });
    const leader = userFixture(org._id, { role: 'manager' });
    const members = Array.from({ length: 12 }, () => userFixture(org._id));
    const team = teamFixture(org._id, {
      leaderId: leader._id,
      memberIds: [leader._id, ...members.map((member) => member._id)],
    });
    await insertFixtures(models, {
      organizations: [org],
      users: [actor, leader, ...members],
      teams: [team],
    });
    const now = new Date();
    const runs = await Promise.all(
      members.map((member) =>
        acceptWithoutWorkers(
          models,
          idle,
          { orgId: org._id, userId: member._id, actorId: actor._id, source: 'bulk' },
          now,
          `run_${uniqueName('team')}`,
        ),
      ),
    );

    const results = await Promise.all(runs.map((run) => invoke(models, run, 'remove-from-teams')));

    const after = await models.teams.findById(team._id).lean();
    expect(after?.memberIds).toEqual([leader._id]);
    expect(results).toEqual(runs.map(() => ({ teams: 1 })));
  });
});
