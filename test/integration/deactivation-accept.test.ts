import { stepNames } from '../../src/models/deactivation.model';
import {
  allSteps,
  deactivationApiHelpers,
  expectError,
  stepStatuses,
  useDeactivationApi,
} from '../support/deactivation-api';
import type { Response } from 'supertest';
import { seedLeavingEmployee, userFixture, type LeavingEmployee } from '../../test-kit/factories';

/* Accepting a deactivation: the run, the user, the flow; one run under concurrent duplicates. */

const t = useDeactivationApi('deactaccept');
const { post, seedOrg, userInDb, runsOf } = deactivationApiHelpers(t);

describe('POST /v1/orgs/:orgId/deactivations: 202 accepted', () => {
  describe('an employee with something for every step', () => {
    const reason = 'left the company';
    let leaving: LeavingEmployee;
    let res: Response;
    let runId: string;
    beforeAll(async () => {
      leaving = await seedLeavingEmployee(t.h.models);
      const { orgId, user, admin } = leaving;
      res = await post(orgId, { userId: user._id, actorId: admin._id, reason });
      runId = res.body.id as string;
    });

    it('answers 202 with the pending run and names it in Location', () => {
      const { orgId, user, admin } = leaving;
      expect(res.status).toBe(202);
      expect(typeof runId).toBe('string');
      expect(res.body).toEqual({
        id: runId,
        orgId,
        userId: user._id,
        actorId: admin._id,
        source: 'api',
        status: 'pending',
        reason,
        allowReactivationOnPurchase: false,
        plan: expect.any(Object),
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
      expect(res.headers.location).toBe(`/v1/orgs/${orgId}/deactivations/${runId}`);
    });

    it('plans every step: the team leader receives; the 202 does not count (a dry run does)', () => {
      expect(res.body.plan).toEqual({
        userKind: 'employee',
        allowReactivationOnPurchase: false,
        cutoff: expect.any(String),
        steps: Object.fromEntries(stepNames.map((name) => [name, true])),
        transferTo: leaving.manager._id,
        transferTeamId: leaving.team._id,
        teamIds: [leaving.team._id],
        counts: null,
      });
      expect(new Date(res.body.plan.cutoff as string).toISOString()).toBe(res.body.plan.cutoff);
    });

    it('switches the user to inactive under the run', async () => {
      const stored = await userInDb(leaving.user._id);
      expect(stored).toMatchObject({
        status: 'inactive',
        deactivationId: runId,
        deactivatedBy: leaving.admin._id,
      });
      expect(stored?.deactivatedAt).toBeInstanceOf(Date);
    });

    it('stores the run, every step pending', async () => {
      const run = await t.h.models.deactivations.findById(runId).lean();
      expect(run).toMatchObject({
        orgId: leaving.orgId,
        userId: leaving.user._id,
        actorId: leaving.admin._id,
        source: 'api',
        status: 'pending',
        reason,
      });
      expect(run?.steps.map((s) => s.status)).toEqual(stepNames.map(() => 'pending'));
    });

    it('queues the flow: a parent waiting for its steps, with ids only in its data', async () => {
      const job = await t.runsQueue.getJob(`run-${runId}`);
      expect(job).toBeDefined();
      expect(job?.name).toBe(`deactivate ${leaving.user._id}`);
      // Ids only: the run's, and the request's so its logs can be followed.
      expect(job?.data).toEqual({
        runId,
        orgId: leaving.orgId,
        userId: leaving.user._id,
        requestId: res.headers['x-request-id'],
      });
      expect(await job?.getState()).toBe('waiting-children');
    });
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
    expect(res.body.plan.steps['blocklist-email']).toBe(false);
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
