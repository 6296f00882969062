import type { Response } from 'supertest';
import { hashEmail } from '../../src/domain/email';
import { stepNames } from '../../src/models/deactivation.model';
import type { User } from '../../src/models/user.model';
import { deactivationApiHelpers, useDeactivationApi } from '../support/deactivation-api';
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

/* dryRun=true: the plan, and nothing changed anywhere. */

const t = useDeactivationApi('deactdry');
const { post, seedOrg, userInDb, storeSnapshot, redisKeys } = deactivationApiHelpers(t);

describe('dryRun=true', () => {
  it('returns the plan with counts and the transfer target, and changes nothing at all', async () => {
    const now = Date.now();
    const org = orgFixture();
    const admin = userFixture(org._id, { role: 'admin' });
    const admin2 = userFixture(org._id, { role: 'admin' });
    const inactiveLeader = userFixture(org._id, { role: 'manager', status: 'inactive' });
    const leader = userFixture(org._id, { role: 'manager' });
    const user = userFixture(org._id);
    const bystander = userFixture(org._id);
    const firstTeam = teamFixture(org._id, {
      leaderId: inactiveLeader._id,
      memberIds: [user._id],
      createdAt: daysAgo(20),
    });
    const secondTeam = teamFixture(org._id, {
      leaderId: leader._id,
      memberIds: [user._id, bystander._id],
      createdAt: daysAgo(10),
    });
    const otherTeam = teamFixture(org._id, { leaderId: leader._id, memberIds: [bystander._id] });
    await insertFixtures(t.h.models, {
      organizations: [org],
      users: [admin, admin2, inactiveLeader, leader, user, bystander],
      // Inserted newest first: the order is the teams', not the insertion's.
      teams: [otherTeam, secondTeam, firstTeam],
      tokens: [
        tokenFixture(org._id, user._id),
        tokenFixture(org._id, user._id, { type: 'refresh' }),
        tokenFixture(org._id, user._id, { type: 'api_key', expiresAt: null as never }),
        tokenFixture(org._id, user._id, { revokedAt: daysAgo(1), revokedReason: 'logout' }),
        tokenFixture(org._id, user._id, { issuedAt: new Date(now + 3_600_000) }),
        tokenFixture(org._id, bystander._id),
      ],
      subscriptions: [
        subscriptionFixture(org._id, user._id),
        subscriptionFixture(org._id, user._id, { status: 'trialing' }),
        subscriptionFixture(org._id, user._id, { status: 'past_due' }),
        subscriptionFixture(org._id, user._id, { status: 'canceled', canceledAt: daysAgo(5) }),
        subscriptionFixture(org._id, bystander._id),
      ],
      opportunities: [
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id, { status: 'won' }),
        opportunityFixture(org._id, user._id, { status: 'lost' }),
        opportunityFixture(org._id, bystander._id),
      ],
    });

    const storeBefore = await storeSnapshot();
    const keysBefore = await redisKeys();
    const res = await post(
      org._id,
      { userId: user._id, actorId: admin._id, reason: 'preview' },
      { query: '?dryRun=true' },
    );

    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toEqual({
      dryRun: true,
      userId: user._id,
      plan: {
        userKind: 'employee',
        allowReactivationOnPurchase: false,
        cutoff: expect.any(String),
        steps: Object.fromEntries(stepNames.map((name) => [name, true])),
        transferTo: leader._id,
        transferTeamId: secondTeam._id,
        teamIds: expect.arrayContaining([firstTeam._id, secondTeam._id]),
        counts: {
          'revoke-tokens': 3,
          'cancel-subscriptions': 3,
          'transfer-opportunities': 2,
          'remove-from-teams': 2,
          'blocklist-email': 1,
        },
      },
    });
    expect(res.body.plan.teamIds).toHaveLength(2);

    expect(await storeSnapshot()).toEqual(storeBefore);
    expect(await redisKeys()).toEqual(keysBefore);
    expect(await userInDb(user._id)).toMatchObject({ status: 'active' });
    expect(await t.h.models.deactivations.countDocuments({ orgId: org._id })).toBe(0);

    // dryRun=false is the real request.
    const real = await post(
      org._id,
      { userId: user._id, actorId: admin._id },
      { query: '?dryRun=false' },
    );
    expect(real.status).toBe(202);
    // The same plan, except that the run's does not count (docs/rules.md).
    expect(real.body.plan).toEqual({
      ...res.body.plan,
      cutoff: real.body.plan.cutoff,
      counts: null,
    });
    expect(real.body.plan.transferTo).toBe(leader._id);
  });

  it('counts 0 for the blocklist when the email is already blocked, or reactivation on purchase is allowed', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [
      userFixture(id, { email: 'Blocked.Person@Example.test' }),
    ]);
    const user = users[0]!;
    const dry = (body: object): Promise<Response> => post(orgId, body, { query: '?dryRun=true' });

    const open = await dry({
      userId: user._id,
      actorId: admin._id,
      allowReactivationOnPurchase: true,
    });
    expect(open.status).toBe(200);
    expect(open.body.plan).toMatchObject({
      allowReactivationOnPurchase: true,
      steps: { 'blocklist-email': false },
      counts: { 'blocklist-email': 0 },
    });

    await t.h.models.blocklist.create({
      _id: newId('blk'),
      orgId,
      emailHash: hashEmail('blocked.person@example.test'),
      email: 'blocked.person@example.test',
      reason: 'user_deactivated',
      createdAt: new Date(),
      createdBy: admin._id,
      deactivationId: null,
    });
    const blocked = await dry({ userId: user._id, actorId: admin._id });
    expect(blocked.status).toBe(200);
    expect(blocked.body.plan).toMatchObject({
      steps: { 'blocklist-email': true },
      counts: { 'blocklist-email': 0 },
    });
  });

  it('gives a refused request the same refusal as the real request, and changes nothing', async () => {
    const { orgId, admin, manager, users } = await seedOrg((id) => [
      userFixture(id, { status: 'inactive' }),
      userFixture(id, { role: 'member' }),
    ]);
    const [inactive, member] = users as [User, User];
    const team = teamFixture(orgId, { leaderId: manager._id });
    await insertFixtures(t.h.models, { teams: [team] });
    const cases = [
      { userId: admin._id, actorId: admin._id },
      { userId: admin._id, actorId: manager._id },
      { userId: member._id, actorId: member._id },
      { userId: member._id, actorId: newId('usr') },
      { userId: inactive._id, actorId: admin._id },
      { userId: manager._id, actorId: admin._id },
      { userId: newId('usr'), actorId: admin._id },
      { userId: member._id, actorId: admin._id, unknown: 1 },
    ];
    const storeBefore = await storeSnapshot();
    const dryResults = [];
    for (const body of cases) {
      const dry = await post(orgId, body, { query: '?dryRun=true' });
      dryResults.push({ status: dry.status, body: dry.body as unknown });
    }
    expect(await storeSnapshot()).toEqual(storeBefore);
    expect(dryResults.map((r) => r.status)).toEqual([403, 403, 403, 404, 409, 409, 404, 400]);
    for (const [index, body] of cases.entries()) {
      const real = await post(orgId, body);
      expect({ body, status: real.status, response: real.body }).toEqual({
        body,
        status: dryResults[index]!.status,
        response: dryResults[index]!.body,
      });
    }
    expect(await t.h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });
});
