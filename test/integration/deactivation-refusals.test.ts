import type { Response } from 'supertest';
import { assessDeactivation } from '../../src/deactivation/assess-deactivation';
import { acceptanceSeam, newRun } from '../../src/deactivation/request-deactivation';
import { AppError } from '../../src/errors/app-error';
import type { User } from '../../src/models/user.model';
import {
  deactivationApiHelpers,
  expectError,
  useDeactivationApi,
} from '../support/deactivation-api';
import {
  daysAgo,
  insertFixtures,
  newId,
  orgFixture,
  teamFixture,
  userFixture,
} from '../../test-kit/factories';

/* The rules: 403 policy refusals and 409 state conflicts, each with its code, changing nothing. */

const t = useDeactivationApi('deactrefuse');
const { post, seedOrg, userInDb, runsOf, expectUntouched } = deactivationApiHelpers(t);

describe('403: policy refusals, each with its rule as code', () => {
  it('refuses actors that may not act, higher roles and self-deactivation, changing nothing', async () => {
    const seeded = await seedOrg((id) => [
      userFixture(id),
      userFixture(id, { role: 'member' }),
      userFixture(id, { role: 'admin', status: 'inactive' }),
      userFixture(id, { role: 'manager', kind: 'customer' }),
    ]);
    const { orgId, admin, admin2, manager } = seeded;
    const [user, member, inactiveAdmin, customerManager] = seeded.users as [User, User, User, User];

    const cases: { body: { userId: string; actorId: string }; code: string }[] = [
      { body: { userId: user._id, actorId: member._id }, code: 'actor_not_allowed' },
      { body: { userId: user._id, actorId: inactiveAdmin._id }, code: 'actor_not_allowed' },
      { body: { userId: user._id, actorId: customerManager._id }, code: 'actor_not_allowed' },
      { body: { userId: admin2._id, actorId: manager._id }, code: 'higher_role' },
      { body: { userId: admin._id, actorId: admin._id }, code: 'self_deactivation' },
      { body: { userId: manager._id, actorId: manager._id }, code: 'self_deactivation' },
    ];
    for (const { body, code } of cases) {
      const res = await post(orgId, body);
      expect({ body, status: res.status, code: res.body?.error?.code }).toEqual({
        body,
        status: 403,
        code,
      });
      expectError(res, 403, code);
    }
    for (const id of [user._id, admin._id, admin2._id, manager._id]) await expectUntouched(id);
    expect(await t.h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });

  it('lets a manager deactivate a customer whatever its role (customers rank as member)', async () => {
    const { orgId, manager, users } = await seedOrg((id) => [
      userFixture(id, { kind: 'customer', role: 'admin' }),
    ]);
    expect((await post(orgId, { userId: users[0]!._id, actorId: manager._id })).status).toBe(202);
  });
});

describe('409: state conflicts', () => {
  it('already_inactive: the user is inactive and no run is under way', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [
      userFixture(id, { status: 'inactive', deactivatedAt: daysAgo(3) }),
    ]);
    expectError(
      await post(orgId, { userId: users[0]!._id, actorId: admin._id }),
      409,
      'already_inactive',
    );
    expect(await runsOf(users[0]!._id)).toHaveLength(0);
  });

  it('team_leader: details.teamIds lists the led teams in team order', async () => {
    const { orgId, admin, manager } = await seedOrg();
    const base = newId('team');
    // One instant for both older teams: two calls of daysAgo(3) can be a millisecond apart,
    // which would order them by time instead of by id.
    const threeDaysAgo = daysAgo(3);
    const newest = teamFixture(orgId, {
      _id: `${base}_c`,
      leaderId: manager._id,
      createdAt: daysAgo(1),
    });
    const olderB = teamFixture(orgId, {
      _id: `${base}_b`,
      leaderId: manager._id,
      createdAt: threeDaysAgo,
    });
    const olderA = teamFixture(orgId, {
      _id: `${base}_a`,
      leaderId: manager._id,
      createdAt: threeDaysAgo,
    });
    const onlyMember = teamFixture(orgId, {
      leaderId: admin._id,
      memberIds: [manager._id],
      createdAt: daysAgo(9),
    });
    await insertFixtures(t.h.models, { teams: [newest, olderB, olderA, onlyMember] });

    const error = expectError(
      await post(orgId, { userId: manager._id, actorId: admin._id }),
      409,
      'team_leader',
    );
    expect(error.details).toEqual({ teamIds: [olderA._id, olderB._id, newest._id] });
    await expectUntouched(manager._id);
  });

  it('a retry finishes a run its first attempt left half-way; another actor still gets 409', async () => {
    const { orgId, admin, admin2, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    // What a store failure between writing the run and switching the user leaves behind.
    const { plan } = await assessDeactivation(
      t.h.models,
      { orgId, userId: user._id, actorId: admin._id, source: 'api' },
      new Date(),
      { counts: false },
    );
    const stranded = newRun(
      { orgId, userId: user._id, actorId: admin._id, source: 'api' },
      user,
      plan,
      new Date(Date.now() - 5_000),
    );
    await t.h.models.deactivations.insertMany([stranded]);

    expectError(
      await post(orgId, { userId: user._id, actorId: admin2._id }),
      409,
      'deactivation_in_progress',
    );
    expect(await userInDb(user._id)).toMatchObject({ status: 'active' });

    const retry = await post(orgId, { userId: user._id, actorId: admin._id });
    expect(retry.status).toBe(202);
    expect(retry.body.id).toBe(stranded._id);
    expect((await runsOf(user._id)).map((run) => run._id)).toEqual([stranded._id]);
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      deactivationId: stranded._id,
    });
    expect(await (await t.runsQueue.getJob(`run-${stranded._id}`))?.getState()).toBe(
      'waiting-children',
    );
  });

  it('deactivation_in_progress: the user is inactive with a pending run', async () => {
    const { orgId, admin, admin2, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const first = await post(orgId, { userId: user._id, actorId: admin._id });
    expect(first.status).toBe(202);
    const error = expectError(
      await post(orgId, { userId: user._id, actorId: admin2._id }),
      409,
      'deactivation_in_progress',
    );
    expect(error.details).toEqual({ deactivationId: first.body.id });
    expect((await runsOf(user._id)).map((run) => run._id)).toEqual([first.body.id]);
    expect(await userInDb(user._id)).toMatchObject({
      deactivationId: first.body.id,
      deactivatedBy: admin._id,
    });
  });

  it('last_admin: the use-case refuses the last active admin to a system actor (sweep)', async () => {
    // Through the API the actor of an admin's deactivation is itself an active admin, so the
    // user can never be the last one when the checks run; a sweep's system actor is not a user.
    const org = orgFixture();
    const lastAdmin = userFixture(org._id, { role: 'admin' });
    const formerAdmin = userFixture(org._id, { role: 'admin', status: 'inactive' });
    const customerAdmin = userFixture(org._id, { role: 'admin', kind: 'customer' });
    await insertFixtures(t.h.models, {
      organizations: [org],
      users: [lastAdmin, formerAdmin, customerAdmin],
    });
    const assessment = assessDeactivation(
      t.h.models,
      {
        orgId: org._id,
        userId: lastAdmin._id,
        actorId: 'system:sweep',
        source: 'sweep',
        systemActor: true,
      },
      new Date(),
      { counts: false },
    );
    await expect(assessment).rejects.toBeInstanceOf(AppError);
    await expect(assessment).rejects.toMatchObject({ code: 'last_admin', httpStatus: 409 });
    await expectUntouched(lastAdmin._id);
  });

  it('last_admin: two admins deactivating each other at once: exactly one is accepted, every time', async () => {
    // Both requests are held after their checks until both have passed them (the seam), so
    // neither has switched its user when the other checks: the race is certain, not likely.
    // Only the recount after the switch can then refuse one of them.
    for (let round = 0; round < 5; round += 1) {
      const org = orgFixture();
      const x = userFixture(org._id, { role: 'admin' });
      const y = userFixture(org._id, { role: 'admin' });
      await insertFixtures(t.h.models, { organizations: [org], users: [x, y] });
      const arrived: (() => void)[] = [];
      const bothChecked = new Promise<void>((resolve) => {
        acceptanceSeam.afterChecks = async (request) => {
          if (request.orgId !== org._id) return;
          await new Promise<void>((release) => {
            arrived.push(release);
            if (arrived.length === 2) resolve();
          });
        };
      });
      void bothChecked.then(() => {
        for (const release of arrived) release();
      });
      let answers: Response[];
      try {
        answers = await Promise.all([
          post(org._id, { userId: y._id, actorId: x._id }),
          post(org._id, { userId: x._id, actorId: y._id }),
        ]);
      } finally {
        acceptanceSeam.afterChecks = undefined;
      }
      expect(arrived).toHaveLength(2);
      const statuses = answers.map((res) => res.status).sort();
      expect({ round, statuses }).toEqual({ round, statuses: [202, 409] });
      const refused = answers.find((res) => res.status === 409)!;
      expectError(refused, 409, 'last_admin');
      const accepted = answers.find((res) => res.status === 202)!;
      const acceptedUser = (accepted.body as { userId: string }).userId;
      const keptUser = acceptedUser === x._id ? y._id : x._id;
      expect(await userInDb(acceptedUser)).toMatchObject({
        status: 'inactive',
        deactivationId: (accepted.body as { id: string }).id,
      });
      expect(await userInDb(keptUser)).toMatchObject({ status: 'active' });
      expect(await userInDb(keptUser)).not.toHaveProperty('deactivationId');
      // The refused request left nothing behind: one run, the accepted one's.
      expect(
        (await t.h.models.deactivations.find({ orgId: org._id }).lean()).map((run) => run._id),
      ).toEqual([(accepted.body as { id: string }).id]);
    }
  });
});
