import { stepNames } from '../../src/models/deactivation.model';
import {
  allSteps,
  deactivationApiHelpers,
  expectError,
  stepStatuses,
  useDeactivationApi,
} from '../support/deactivation-api';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';

/* Accepting a deactivation: the run, the user, the flow; one run under concurrent duplicates. */

const t = useDeactivationApi('deactaccept');
const { post, seedOrg, userInDb, runsOf } = deactivationApiHelpers(t);

describe('POST /v1/orgs/:orgId/deactivations: 202 accepted', () => {
  it('returns the run, names it in Location, flips the user, stores the run and queues its flow', async () => {
    const org = orgFixture();
    const admin = userFixture(org._id, { role: 'admin' });
    const admin2 = userFixture(org._id, { role: 'admin' });
    const leader = userFixture(org._id, { role: 'manager' });
    const user = userFixture(org._id);
    const team = teamFixture(org._id, { leaderId: leader._id, memberIds: [leader._id, user._id] });
    await insertFixtures(t.h.models, {
      organizations: [org],
      users: [admin, admin2, leader, user],
      teams: [team],
      tokens: [tokenFixture(org._id, user._id), tokenFixture(org._id, user._id)],
      subscriptions: [subscriptionFixture(org._id, user._id)],
      opportunities: [
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id, { status: 'won' }),
      ],
    });

    const res = await post(org._id, {
      userId: user._id,
      actorId: admin._id,
      reason: 'left the company',
    });

    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    expect(typeof runId).toBe('string');
    expect(res.body).toEqual({
      id: runId,
      orgId: org._id,
      userId: user._id,
      actorId: admin._id,
      source: 'api',
      status: 'pending',
      reason: 'left the company',
      allowReactivationOnPurchase: false,
      plan: {
        userKind: 'employee',
        allowReactivationOnPurchase: false,
        cutoff: expect.any(String),
        steps: Object.fromEntries(stepNames.map((name) => [name, true])),
        transferTo: leader._id,
        transferTeamId: team._id,
        teamIds: [team._id],
        counts: {
          'revoke-tokens': 2,
          'cancel-subscriptions': 1,
          'transfer-opportunities': 2,
          'remove-from-teams': 1,
          'blocklist-email': 1,
        },
      },
      steps: stepNames.map((name) => ({
        name,
        status: 'pending',
        attempts: 0,
        result: null,
        error: null,
      })),
      error: null,
      createdAt: expect.any(String),
      completedAt: null,
    });
    expect(new Date(res.body.createdAt as string).toISOString()).toBe(res.body.createdAt);
    expect(new Date(res.body.plan.cutoff as string).toISOString()).toBe(res.body.plan.cutoff);
    expect(res.headers.location).toBe(`/v1/orgs/${org._id}/deactivations/${runId}`);

    const stored = await userInDb(user._id);
    expect(stored).toMatchObject({
      status: 'inactive',
      deactivationId: runId,
      deactivatedBy: admin._id,
    });
    expect(stored?.deactivatedAt).toBeInstanceOf(Date);

    const run = await t.h.models.deactivations.findById(runId).lean();
    expect(run).toMatchObject({
      orgId: org._id,
      userId: user._id,
      actorId: admin._id,
      source: 'api',
      status: 'pending',
      reason: 'left the company',
    });
    expect(run?.steps.map((s) => s.status)).toEqual(stepNames.map(() => 'pending'));

    const job = await t.runsQueue.getJob(`run-${runId}`);
    expect(job).toBeDefined();
    expect(job?.name).toBe(`deactivate ${user._id}`);
    // Ids only: the run's, and the request's so its logs can be followed.
    expect(job?.data).toEqual({
      runId,
      orgId: org._id,
      userId: user._id,
      requestId: res.headers['x-request-id'],
    });
    // The parent waits for its chain of step jobs.
    expect(await job?.getState()).toBe('waiting-children');
  });

  it('skips transfer-opportunities and remove-from-teams for a customer', async () => {
    const { orgId, manager, users } = await seedOrg((id) => [
      userFixture(id, { kind: 'customer' }),
    ]);
    const customer = users[0]!;
    const res = await post(orgId, { userId: customer._id, actorId: manager._id });
    expect(res.status).toBe(202);
    expect(stepStatuses(res.body)).toEqual({
      'revoke-tokens': 'pending',
      'cancel-subscriptions': 'pending',
      'transfer-opportunities': 'skipped',
      'remove-from-teams': 'skipped',
      'blocklist-email': 'pending',
    });
    expect(res.body.plan).toMatchObject({ userKind: 'customer', transferTo: null, teamIds: [] });
    expect(res.body.reason).toBeNull();
    expect(await userInDb(customer._id)).toMatchObject({
      status: 'inactive',
      deactivationId: res.body.id,
    });
    expect(await t.runsQueue.getJob(`run-${res.body.id as string}`)).toBeDefined();
  });

  it('skips blocklist-email with allowReactivationOnPurchase: true and records the choice', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const res = await post(orgId, {
      userId: user._id,
      actorId: admin._id,
      allowReactivationOnPurchase: true,
    });
    expect(res.status).toBe(202);
    expect(stepStatuses(res.body)).toEqual({
      ...allSteps('pending'),
      'blocklist-email': 'skipped',
    });
    expect(res.body.allowReactivationOnPurchase).toBe(true);
    expect(res.body.plan.counts['blocklist-email']).toBe(0);
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      allowReactivationOnPurchase: true,
    });
  });
});

describe('concurrent duplicates', () => {
  it('accepts exactly one of 50 identical concurrent requests and stores one run', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => post(orgId, { userId: user._id, actorId: admin._id })),
    );
    const statuses = responses.map((res) => res.status);
    // One run: the first request accepts it; a duplicate arriving after it was written may
    // be answered with that same run (a retry finishing a stranded acceptance), never another.
    const acceptedIds = new Set(
      responses.filter((r) => r.status === 202).map((r) => String(r.body.id)),
    );
    expect(acceptedIds.size).toBe(1);
    expect(statuses.filter((status) => status !== 202 && status !== 409)).toEqual([]);
    for (const res of responses.filter((r) => r.status === 409)) {
      expect(['deactivation_in_progress', 'already_inactive']).toContain(res.body.error.code);
      expectError(res, 409, res.body.error.code as string);
    }
    const accepted = responses.find((res) => res.status === 202)!;
    const runs = await runsOf(user._id);
    expect(runs.map((run) => run._id)).toEqual([accepted.body.id]);
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      deactivationId: accepted.body.id,
    });
    expect(await t.runsQueue.getJob(`run-${accepted.body.id as string}`)).toBeDefined();
  });
});
