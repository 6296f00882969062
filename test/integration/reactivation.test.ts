import { Queue } from 'bullmq';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { AuditEvent } from '../../src/models/audit-event.model';
import { hashEmail } from '../../src/domain/email';
import { stepNames, type Deactivation } from '../../src/models/deactivation.model';
import { enqueueRun } from '../../src/deactivation/deactivation-flow.job';
import { runJobId } from '../../src/queues/job-ids';
import type { User } from '../../src/models/user.model';
import { queueNames } from '../../src/queues/queue-names';
import {
  opportunityFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
  insertFixtures,
} from '../../test-kit/factories';
import {
  deactivateAndWait,
  deactivateInStore,
  errorCode,
  openLifecycleHarness,
  seedLifecycleOrg,
  type LifecycleHarness,
} from '../support/lifecycle-harness';
import { waitForRunStatus } from '../support/run-helpers';

let t: LifecycleHarness;
let runsQueue: Queue;

beforeAll(async () => {
  t = await openLifecycleHarness('reactivation');
  runsQueue = new Queue(queueNames.runs, { connection: t.redis, prefix: t.h.config.queuePrefix });
});

afterAll(async () => {
  await runsQueue.close();
  await t.close();
});

const reactivationsPath = (orgId: string): string => `/v1/orgs/${orgId}/reactivations`;

async function userInDb(id: string): Promise<User> {
  const user = await t.h.models.users.findById(id).lean();
  if (!user) throw new Error(`no user ${id}`);
  return user;
}

async function reactivationEvents(userId: string): Promise<AuditEvent[]> {
  return t.h.models.auditEvents.find({ subjectId: userId, type: 'user.reactivated' }).lean();
}

/**
 * Runs a finished run again through the real workers, as a re-queue would: its step records go
 * back to pending (otherwise each step returns its stored result without looking), its old
 * jobs are removed so the deterministic ids are free, and its flow is added again.
 */
async function rerun(run: Deactivation): Promise<Deactivation> {
  const reset = Object.fromEntries(
    stepNames
      .filter((step) => run.plan.steps[step])
      .map((step) => [`steps.${stepNames.indexOf(step)}.status`, 'pending']),
  );
  await t.h.models.deactivations.updateOne(
    { _id: run._id },
    { $set: { ...reset, status: 'pending', completedAt: null } },
  );
  await (await runsQueue.getJob(runJobId(run._id)))?.remove({ removeChildren: true });
  await enqueueRun(t.h.flows, run);
  return waitForRunStatus(t.h.models, run._id, 'completed');
}

describe('POST /v1/orgs/:orgId/reactivations: 200', () => {
  it('reactivates a deactivated employee, lifts the blocklist entry and reverts nothing else', async () => {
    const { orgId, admin, manager, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    const team = teamFixture(orgId, { leaderId: manager._id, memberIds: [manager._id, user._id] });
    const openOpp = opportunityFixture(orgId, user._id);
    const wonOpp = opportunityFixture(orgId, user._id, { status: 'won' });
    await insertFixtures(t.h.models, {
      teams: [team],
      tokens: [tokenFixture(orgId, user._id), tokenFixture(orgId, user._id, { type: 'api_key' })],
      subscriptions: [subscriptionFixture(orgId, user._id)],
      opportunities: [openOpp, wonOpp],
    });
    const run = await deactivateAndWait(t, { orgId, userId: user._id, actorId: admin._id });
    expect(
      await t.h.models.blocklist.exists({ orgId, emailHash: hashEmail(user.email!) }),
    ).toBeTruthy();
    const before = {
      tokens: await t.h.models.tokens.find({ userId: user._id }).sort({ _id: 1 }).lean(),
      subscriptions: await t.h.models.subscriptions.find({ userId: user._id }).lean(),
      opportunities: await t.h.models.opportunities.find({ orgId }).sort({ _id: 1 }).lean(),
      team: await t.h.models.teams.findById(team._id).lean(),
    };
    expect(before.tokens.every((token) => token.revokedAt instanceof Date)).toBe(true);

    const res = await t.post(
      reactivationsPath(orgId),
      { userId: user._id, actorId: manager._id, reason: 'came back' },
      { key: t.keys.write },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: user._id,
      orgId,
      kind: 'employee',
      role: 'member',
      status: 'active',
      deactivationId: run._id,
      deactivatedBy: admin._id,
    });
    // Ids, kind, role, status and timestamps only: no personal fields in the response.
    for (const field of ['email', 'firstName', 'lastName', 'emailHash']) {
      expect(res.body).not.toHaveProperty(field);
    }

    const stored = await userInDb(user._id);
    expect(stored.status).toBe('active');
    expect(stored.reactivatedAt).toBeInstanceOf(Date);
    expect(res.body.reactivatedAt).toBe(stored.reactivatedAt!.toISOString());
    expect(await t.h.models.blocklist.countDocuments({ orgId })).toBe(0);
    const events = await reactivationEvents(user._id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      orgId,
      actorId: manager._id,
      subjectId: user._id,
      data: { deactivationId: run._id, source: 'api', reason: 'came back' },
    });
    expect(events[0]!.at).toEqual(stored.reactivatedAt);

    // Nothing else is reverted: every token, subscription, opportunity and team as it was.
    expect(await t.h.models.tokens.find({ userId: user._id }).sort({ _id: 1 }).lean()).toEqual(
      before.tokens,
    );
    expect(await t.h.models.subscriptions.find({ userId: user._id }).lean()).toEqual(
      before.subscriptions,
    );
    expect(before.subscriptions[0]).toMatchObject({ status: 'canceled' });
    expect(await t.h.models.opportunities.find({ orgId }).sort({ _id: 1 }).lean()).toEqual(
      before.opportunities,
    );
    expect(before.opportunities.find((opp) => opp._id === openOpp._id)?.ownerId).toBe(manager._id);
    expect(await t.h.models.teams.findById(team._id).lean()).toEqual(before.team);
    expect(before.team?.memberIds).toEqual([manager._id]);

    // The purchase check no longer refuses the address.
    const check = await t.post(
      `/v1/orgs/${orgId}/purchases/check`,
      { email: user.email },
      { key: t.keys.purchases },
    );
    expect(check.body).toEqual({ allowed: true, reactivated: false, reason: 'not_blocklisted' });
  });

  it('lets a later deactivation be a new run that revokes what was issued after the reactivation, which the old run never touches', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [
      userFixture(org, { kind: 'customer' }),
    ]);
    const user = users[0]!;
    const oldToken = tokenFixture(orgId, user._id);
    await insertFixtures(t.h.models, {
      tokens: [oldToken],
      subscriptions: [subscriptionFixture(orgId, user._id)],
    });
    const first = await deactivateAndWait(t, { orgId, userId: user._id, actorId: admin._id });
    const reactivated = await t.post(reactivationsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
    });
    expect(reactivated.status).toBe(200);

    // The user's new life: a session and a subscription after the reactivation.
    const newToken = tokenFixture(orgId, user._id, { issuedAt: new Date() });
    const newSub = subscriptionFixture(orgId, user._id);
    await insertFixtures(t.h.models, { tokens: [newToken], subscriptions: [newSub] });

    // The old run, re-run now, changes nothing and reports what it did back then.
    const rerunOfFirst = await rerun(first);
    // blocklist-email is left out: it counts the entries carrying the run's id, and the
    // reactivation removed that entry (reported to the lead).
    const results = (run: Deactivation): unknown[] =>
      run.steps.filter((step) => step.name !== 'blocklist-email').map((s) => [s.name, s.result]);
    expect(results(rerunOfFirst)).toEqual(results(first));
    expect(first.steps[0]?.result).toEqual({ revoked: 1 });
    expect(await t.h.models.tokens.findById(newToken._id).lean()).toMatchObject({
      revokedAt: null,
    });
    expect(await t.h.models.subscriptions.findById(newSub._id).lean()).toMatchObject({
      status: 'active',
    });

    const second = await deactivateAndWait(t, { orgId, userId: user._id, actorId: admin._id });
    expect(second._id).not.toBe(first._id);
    expect(second.steps[0]?.result).toEqual({ revoked: 1 });
    expect(await t.h.models.tokens.findById(newToken._id).lean()).toMatchObject({
      revokedByDeactivationId: second._id,
    });
    expect(await t.h.models.tokens.findById(oldToken._id).lean()).toMatchObject({
      revokedByDeactivationId: first._id,
    });
    expect(await t.h.models.subscriptions.findById(newSub._id).lean()).toMatchObject({
      status: 'canceled',
      cancelDeactivationId: second._id,
    });
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      deactivationId: second._id,
    });

    // And the new period can end with a reactivation of its own.
    const again = await t.post(reactivationsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
    });
    expect(again.status).toBe(200);
    expect(await reactivationEvents(user._id)).toHaveLength(2);
  });

  it('an old run re-run after a reactivation leaves the employee’s teams, opportunities, tokens, subscriptions and blocklist of the new period alone', async () => {
    // An employee, so every step applies: the transfer and team steps are not skipped.
    const { orgId, admin, manager, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    const team = teamFixture(orgId, { leaderId: manager._id, memberIds: [manager._id, user._id] });
    const oldOpp = opportunityFixture(orgId, user._id);
    await insertFixtures(t.h.models, {
      teams: [team],
      opportunities: [oldOpp],
      tokens: [tokenFixture(orgId, user._id)],
      subscriptions: [subscriptionFixture(orgId, user._id)],
    });
    const first = await deactivateAndWait(t, { orgId, userId: user._id, actorId: admin._id });
    expect(first.plan).toMatchObject({ transferTo: manager._id, teamIds: [team._id] });
    expect(first.steps.map((step) => [step.name, step.status, step.result])).toEqual([
      ['revoke-tokens', 'completed', { revoked: 1 }],
      ['cancel-subscriptions', 'completed', { canceled: 1 }],
      ['transfer-opportunities', 'completed', { transferred: 1, to: manager._id, retained: 0 }],
      ['remove-from-teams', 'completed', { teams: 1 }],
      ['blocklist-email', 'completed', { blocked: 1 }],
    ]);
    const reactivated = await t.post(reactivationsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
    });
    expect(reactivated.status).toBe(200);

    // The new period: back in the old team and in a new one, a new open opportunity, a new
    // session and subscription, and (the reactivation lifted it) no blocklist entry.
    await t.h.models.teams.updateOne({ _id: team._id }, { $addToSet: { memberIds: user._id } });
    const newTeam = teamFixture(orgId, { leaderId: manager._id, memberIds: [user._id] });
    const newOpp = opportunityFixture(orgId, user._id);
    const newToken = tokenFixture(orgId, user._id, { issuedAt: new Date() });
    const newSub = subscriptionFixture(orgId, user._id);
    await insertFixtures(t.h.models, {
      teams: [newTeam],
      opportunities: [newOpp],
      tokens: [newToken],
      subscriptions: [newSub],
    });
    expect(await t.h.models.blocklist.countDocuments({ orgId })).toBe(0);

    // Every step of the old run runs again and changes nothing of the new period.
    const again = await rerun(first);
    expect(again.steps.map((step) => step.status)).toEqual(stepNames.map(() => 'completed'));
    // Compared: the counts read back by run id. Left out: blocklist-email (the reactivation
    // removed the entry carrying the run's id) and remove-from-teams, which counts the planned
    // teams that no longer list the user, so a user back in their team makes it 0 (reported).
    const byRunId = new Set(['revoke-tokens', 'cancel-subscriptions', 'transfer-opportunities']);
    const results = (run: Deactivation): unknown[] =>
      run.steps.filter((step) => byRunId.has(step.name)).map((s) => [s.name, s.result]);
    expect(results(again)).toEqual(results(first));
    expect(await t.h.models.opportunities.findById(newOpp._id).lean()).toMatchObject({
      ownerId: user._id,
      transfers: [],
    });
    expect((await t.h.models.opportunities.findById(oldOpp._id).lean())?.transfers).toHaveLength(1);
    expect((await t.h.models.teams.findById(team._id).lean())?.memberIds).toEqual([
      manager._id,
      user._id,
    ]);
    expect((await t.h.models.teams.findById(newTeam._id).lean())?.memberIds).toEqual([user._id]);
    expect(await t.h.models.tokens.findById(newToken._id).lean()).toMatchObject({
      revokedAt: null,
    });
    expect(await t.h.models.subscriptions.findById(newSub._id).lean()).toMatchObject({
      status: 'active',
    });
    expect(await t.h.models.blocklist.countDocuments({ orgId })).toBe(0);
    expect(await userInDb(user._id)).toMatchObject({ status: 'active' });
  });

  it('an operator retry of a failed run after a reactivation changes nothing, its later steps’ first attempts included', async () => {
    const { orgId, admin, manager, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    const team = teamFixture(orgId, { leaderId: manager._id, memberIds: [manager._id, user._id] });
    const opp = opportunityFixture(orgId, user._id);
    const token = tokenFixture(orgId, user._id);
    const sub = subscriptionFixture(orgId, user._id);
    await insertFixtures(t.h.models, {
      teams: [team],
      opportunities: [opp],
      tokens: [token],
      subscriptions: [sub],
    });
    // Accepted (the user switched, no worker has run it yet), then its first step failed for
    // good: the run is failed, so a reactivation is allowed.
    const run = await deactivateInStore(
      t,
      { orgId, userId: user._id, actorId: admin._id },
      'pending',
    );
    await t.h.models.deactivations.updateOne(
      { _id: run._id },
      {
        $set: {
          status: 'failed',
          'steps.0.status': 'failed',
          'steps.0.attempts': 1,
          'steps.0.error': 'internal: the store was away',
        },
      },
    );
    const reactivated = await t.post(reactivationsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
    });
    expect(reactivated.status).toBe(200);

    // The operator retries: the failed step runs again, then the rest of the chain, each of
    // those for the first time, in a run that reads `running` again.
    await enqueueRun(t.h.flows, run);
    const finished = await waitForRunStatus(t.h.models, run._id, 'completed');
    expect(finished.steps.map((step) => [step.name, step.status, step.attempts])).toEqual([
      ['revoke-tokens', 'completed', 2],
      ['cancel-subscriptions', 'completed', 1],
      ['transfer-opportunities', 'completed', 1],
      ['remove-from-teams', 'completed', 1],
      ['blocklist-email', 'completed', 1],
    ]);
    expect(await t.h.models.tokens.findById(token._id).lean()).toMatchObject({ revokedAt: null });
    expect(await t.h.models.subscriptions.findById(sub._id).lean()).toMatchObject({
      status: 'active',
    });
    expect(await t.h.models.opportunities.findById(opp._id).lean()).toMatchObject({
      ownerId: user._id,
      transfers: [],
    });
    expect((await t.h.models.teams.findById(team._id).lean())?.memberIds).toEqual([
      manager._id,
      user._id,
    ]);
    expect(await t.h.models.blocklist.countDocuments({ orgId })).toBe(0);
    expect(await userInDb(user._id)).toMatchObject({ status: 'active' });
  });

  it('reactivates a user whose deactivation run failed', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'failed');
    const res = await t.post(reactivationsPath(orgId), { userId: user._id, actorId: admin._id });
    expect(res.status).toBe(200);
    expect((await userInDb(user._id)).status).toBe('active');
  });

  it('reactivates once when two requests race: one 200, one 409 already_active, one audit event', async () => {
    const { orgId, admin, admin2, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    const responses = await Promise.all(
      [admin, admin2, admin].map((actor) =>
        t.post(reactivationsPath(orgId), { userId: user._id, actorId: actor._id }),
      ),
    );
    expect(responses.map((res) => res.status).sort()).toEqual([200, 409, 409]);
    for (const res of responses.filter((r) => r.status === 409)) {
      expect(errorCode(res)).toBe('already_active');
    }
    const events = await reactivationEvents(user._id);
    expect(events).toHaveLength(1);
    expect((await userInDb(user._id)).reactivatedAt).toEqual(events[0]!.at);
  });
});

describe('POST /v1/orgs/:orgId/reactivations: refusals', () => {
  it('answers 401 without a key, 403 without the write scope or the organization', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    const body = { userId: user._id, actorId: admin._id };

    const anonymous = await t.post(reactivationsPath(orgId), body, { key: 'nope' });
    expect(anonymous.status).toBe(401);
    expect(errorCode(anonymous)).toBe('unauthorized');
    for (const key of [t.keys.read, t.keys.purchases, t.keys.delete]) {
      const res = await t.post(reactivationsPath(orgId), body, { key });
      expect(res.status).toBe(403);
      expect(errorCode(res)).toBe('forbidden');
    }
    const otherOrgKey = (
      await createApiKey(t.h.models, { name: 'other', scopes: ['write'], orgIds: ['org_other'] })
    ).key;
    const otherOrg = await t.post(reactivationsPath(orgId), body, { key: otherOrgKey });
    expect(otherOrg.status).toBe(403);
    expect((await userInDb(user._id)).status).toBe('inactive');
  });

  it('answers 400 for invalid bodies, listing every issue', async () => {
    const { orgId } = await seedLifecycleOrg(t);
    const res = await t.post(reactivationsPath(orgId), { userId: '', extra: 1 });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('validation_failed');
    const paths = (res.body.error.details as { path: unknown[] }[]).map((issue) =>
      issue.path.join('.'),
    );
    expect(paths).toEqual(expect.arrayContaining(['body.userId', 'body.actorId', 'body']));
  });

  it('answers 404 for an unknown organization or user', async () => {
    const { orgId, admin } = await seedLifecycleOrg(t);
    const unknownOrg = await t.post(reactivationsPath('org_nowhere'), {
      userId: admin._id,
      actorId: admin._id,
    });
    expect(unknownOrg.status).toBe(404);
    const unknownUser = await t.post(reactivationsPath(orgId), {
      userId: 'usr_nobody',
      actorId: admin._id,
    });
    expect(unknownUser.status).toBe(404);
    expect(errorCode(unknownUser)).toBe('not_found');
  });

  it('applies the actor rules of deactivation (403)', async () => {
    const { orgId, admin, manager, users } = await seedLifecycleOrg(t, (org) => [
      userFixture(org),
      userFixture(org, { role: 'admin' }),
      userFixture(org, { status: 'inactive' }),
    ]);
    const [member, otherAdmin, inactiveActor] = users as [User, User, User];
    await deactivateInStore(t, { orgId, userId: otherAdmin._id, actorId: admin._id }, 'completed');
    const cases: [string, string, string][] = [
      [member._id, otherAdmin._id, 'actor_not_allowed'],
      [inactiveActor._id, otherAdmin._id, 'actor_not_allowed'],
      [manager._id, otherAdmin._id, 'higher_role'],
    ];
    for (const [actorId, userId, code] of cases) {
      const res = await t.post(reactivationsPath(orgId), { userId, actorId });
      expect({ status: res.status, code: errorCode(res) }).toEqual({ status: 403, code });
    }
    // An actor that names no user of the organization is 404, like an unknown user.
    const unknownActor = await t.post(reactivationsPath(orgId), {
      userId: otherAdmin._id,
      actorId: 'usr_unknown_actor',
    });
    expect({ status: unknownActor.status, code: errorCode(unknownActor) }).toEqual({
      status: 404,
      code: 'not_found',
    });
    expect((await userInDb(otherAdmin._id)).status).toBe('inactive');
    expect(await reactivationEvents(otherAdmin._id)).toHaveLength(0);
  });

  it('answers 409 already_active, deactivation_in_progress and user_deleted', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [
      userFixture(org),
      userFixture(org),
      userFixture(org, {
        status: 'deleted',
        email: null,
        firstName: null,
        lastName: null,
        deletedAt: new Date(),
      }),
    ]);
    const [active, running, deleted] = users as [User, User, User];
    const run = await deactivateInStore(
      t,
      { orgId, userId: running._id, actorId: admin._id },
      'pending',
    );

    const alreadyActive = await t.post(reactivationsPath(orgId), {
      userId: active._id,
      actorId: admin._id,
    });
    expect({ status: alreadyActive.status, code: errorCode(alreadyActive) }).toEqual({
      status: 409,
      code: 'already_active',
    });
    const inProgress = await t.post(reactivationsPath(orgId), {
      userId: running._id,
      actorId: admin._id,
    });
    expect({ status: inProgress.status, code: errorCode(inProgress) }).toEqual({
      status: 409,
      code: 'deactivation_in_progress',
    });
    expect(inProgress.body.error.details).toEqual({ deactivationId: run._id });
    const gone = await t.post(reactivationsPath(orgId), {
      userId: deleted._id,
      actorId: admin._id,
    });
    expect({ status: gone.status, code: errorCode(gone) }).toEqual({
      status: 409,
      code: 'user_deleted',
    });

    expect((await userInDb(running._id)).status).toBe('inactive');
    expect(await reactivationEvents(running._id)).toHaveLength(0);
    // The run that was in progress is untouched and can still finish.
    expect((await t.h.models.deactivations.findById(run._id).lean())?.status).toBe('pending');
  });

  it('replays the first response for a repeated Idempotency-Key', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    const body = { userId: user._id, actorId: admin._id };
    const first = await t.post(reactivationsPath(orgId), body, { idempotencyKey: 'react-1' });
    const second = await t.post(reactivationsPath(orgId), body, { idempotencyKey: 'react-1' });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const plain = await t.post(reactivationsPath(orgId), body);
    expect(errorCode(plain)).toBe('already_active');
  });
});
