import request from 'supertest';
import { hashEmail } from '../../src/domain/email';
import type { User } from '../../src/models/user.model';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import { until } from '../support/lifecycle-harness';
import { waitForRunStatus } from '../support/run-helpers';
import {
  openScimHarness,
  runsOf,
  scimBody,
  scimError,
  scimSchemas,
  type ScimHarness,
} from '../support/scim-harness';

/**
 * Okta's SCIM 2.0 provisioning, request by request, as its public documentation shows it
 * ("SCIM 2.0 protocol reference", Okta developer docs): look the user up by userName, create
 * them, read them back, update the profile with PUT, deactivate with a path-less PATCH
 * replace of `{"active": false}`, reactivate the same way, and (with "delete" configured)
 * DELETE. Real workers run, so each run's side effects are checked in the database.
 */
let t: ScimHarness;
let orgId: string;
let leader: User;
let teamId: string;

beforeAll(async () => {
  t = await openScimHarness('scimokta', { workers: true });
  const org = orgFixture();
  orgId = org._id;
  const admin = userFixture(orgId, { role: 'admin' });
  leader = userFixture(orgId, { role: 'manager' });
  const team = teamFixture(orgId, { leaderId: leader._id, memberIds: [leader._id] });
  teamId = team._id;
  await insertFixtures(t.h.models, { organizations: [org], users: [admin, leader], teams: [team] });
});

afterAll(async () => {
  await t.close();
});

interface OktaUser {
  id: string;
  userName: string;
  active: boolean;
  externalId?: string;
  name?: { givenName?: string; familyName?: string };
  meta: { version: string };
}

const oktaHeaders = { Accept: 'application/scim+json', 'User-Agent': 'Okta SCIM Client 1.0.0' };
const deactivate = {
  schemas: [scimSchemas.patchOp],
  Operations: [{ op: 'replace', value: { active: false } }],
};
const reactivate = {
  schemas: [scimSchemas.patchOp],
  Operations: [{ op: 'replace', value: { active: true } }],
};

async function stored(id: string): Promise<User> {
  const user = await t.h.models.users.findById(id).lean();
  if (!user) throw new Error(`no user ${id}`);
  return user;
}

it('provisions, deactivates, reactivates and deletes a user as Okta does', async () => {
  const userName = 'Test.User@Okta.local';

  // 1. Does the user exist? Okta asks by userName, with paging parameters.
  const lookup = await t.scim(
    'get',
    orgId,
    `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&startIndex=1&count=100`,
    { headers: oktaHeaders },
  );
  expect(lookup.status).toBe(200);
  expect(scimBody(lookup)).toMatchObject({ totalResults: 0, Resources: [] });

  // 2. Create, with Okta's full body.
  const created = await t.scim('post', orgId, '/Users', {
    headers: oktaHeaders,
    body: {
      schemas: [scimSchemas.user],
      userName,
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    },
  });
  expect(created.status).toBe(201);
  const user = scimBody<OktaUser>(created);
  expect(user).toMatchObject({ userName: 'test.user@okta.local', active: true });
  const id = user.id;

  // The product uses the account: sessions, a subscription, an open deal, a team.
  const token = tokenFixture(orgId, id);
  const subscription = subscriptionFixture(orgId, id);
  const opportunity = opportunityFixture(orgId, id);
  await insertFixtures(t.h.models, {
    tokens: [token],
    subscriptions: [subscription],
    opportunities: [opportunity],
  });
  await t.h.models.teams.updateOne({ _id: teamId }, { $push: { memberIds: id } });

  // 3. Read it back, and find it again by userName in another case.
  expect(scimBody<OktaUser>(await t.scim('get', orgId, `/Users/${id}`))).toMatchObject({ id });
  const found = await t.scim(
    'get',
    orgId,
    `/Users?filter=${encodeURIComponent('userName eq "TEST.USER@okta.local"')}&startIndex=1&count=100`,
  );
  expect(scimBody(found)).toMatchObject({ totalResults: 1, Resources: [{ id }] });

  // 4. A profile update: Okta PUTs the whole user.
  const put = await t.scim('put', orgId, `/Users/${id}`, {
    headers: oktaHeaders,
    body: {
      schemas: [scimSchemas.user],
      id,
      userName,
      name: { givenName: 'Tess', familyName: 'User' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      externalId: '00ujl29u0le5T6Aj10h7',
      active: true,
      meta: { resourceType: 'User' },
    },
  });
  expect(put.status).toBe(200);
  expect(await stored(id)).toMatchObject({ firstName: 'Tess', status: 'active' });
  expect(await runsOf(t.h, id)).toHaveLength(0);

  // 5. Deactivate: a path-less replace. The user is inactive at once; the run does the rest.
  const patched = await t.scim('patch', orgId, `/Users/${id}`, {
    headers: oktaHeaders,
    body: deactivate,
  });
  expect(patched.status).toBe(200);
  expect(scimBody<OktaUser>(patched).active).toBe(false);
  expect(await stored(id)).toMatchObject({ status: 'inactive', deactivatedBy: 'system:scim' });
  const [run] = await runsOf(t.h, id);
  expect(run).toMatchObject({
    source: 'scim',
    actorId: 'system:scim',
    plan: { transferTo: leader._id },
  });
  // Okta retries a request it thinks failed: the same PATCH, while the run may still go.
  const repeated = await t.scim('patch', orgId, `/Users/${id}`, { body: deactivate });
  expect([repeated.status, scimBody<OktaUser>(repeated).active]).toEqual([200, false]);

  const completed = await waitForRunStatus(t.h.models, run!._id, 'completed');
  expect(completed.steps.map((step) => [step.name, step.status])).toEqual([
    ['revoke-tokens', 'completed'],
    ['cancel-subscriptions', 'completed'],
    ['transfer-opportunities', 'completed'],
    ['remove-from-teams', 'completed'],
    ['blocklist-email', 'completed'],
  ]);
  expect(await t.h.models.tokens.findById(token._id).lean()).toMatchObject({
    revokedReason: 'user_deactivated',
  });
  expect(await t.h.models.subscriptions.findById(subscription._id).lean()).toMatchObject({
    status: 'canceled',
    cancelReason: 'user_deactivated',
  });
  expect(await t.h.models.opportunities.findById(opportunity._id).lean()).toMatchObject({
    ownerId: leader._id,
  });
  expect((await t.h.models.teams.findById(teamId).lean())?.memberIds).toEqual([leader._id]);
  expect(
    await t.h.models.blocklist.findOne({ orgId, emailHash: hashEmail(userName) }).lean(),
  ).toMatchObject({ deactivationId: run!._id });
  expect(
    await t.h.models.auditEvents.findOne({ subjectId: id, type: 'user.deactivated' }).lean(),
  ).toMatchObject({ actorId: 'system:scim', data: { source: 'scim' } });
  // Visible through /v1 like any run.
  const readKey = await t.key(['read']);
  const listed = await request(t.server)
    .get(`/v1/orgs/${orgId}/deactivations/${run!._id}`)
    .set('Authorization', `Bearer ${readKey}`);
  expect(listed.body).toMatchObject({ source: 'scim', status: 'completed' });

  // Repeated after the run completed: still 200, still one run.
  expect((await t.scim('patch', orgId, `/Users/${id}`, { body: deactivate })).status).toBe(200);
  expect(await runsOf(t.h, id)).toHaveLength(1);

  // 6. Reactivate: the blocklist entry goes; nothing else is restored (docs/rules.md).
  const back = await t.scim('patch', orgId, `/Users/${id}`, { body: reactivate });
  expect([back.status, scimBody<OktaUser>(back).active]).toEqual([200, true]);
  expect(await stored(id)).toMatchObject({ status: 'active' });
  expect(await t.h.models.blocklist.countDocuments({ orgId, emailHash: hashEmail(userName) })).toBe(
    0,
  );
  expect(await t.h.models.tokens.findById(token._id).lean()).toMatchObject({
    revokedReason: 'user_deactivated',
  });
  expect(
    await t.h.models.auditEvents.findOne({ subjectId: id, type: 'user.reactivated' }).lean(),
  ).toMatchObject({ actorId: 'system:scim', data: { source: 'scim' } });
  expect((await t.scim('patch', orgId, `/Users/${id}`, { body: reactivate })).status).toBe(200);

  // 7. Delete: 204 at once, 404 from then on; deactivated again, then erased.
  const deleted = await t.scim('delete', orgId, `/Users/${id}`);
  expect(deleted.status).toBe(204);
  expect(scimError(await t.scim('get', orgId, `/Users/${id}`)).status).toBe('404');
  const runs = await runsOf(t.h, id);
  expect(runs).toHaveLength(2);
  expect(runs[1]).toMatchObject({ source: 'scim', actorId: 'system:scim' });
  const erased = await until(async () => {
    const now = await stored(id);
    return now.deletedAt ? now : undefined;
  }, 'the erasure after the second run');
  expect(erased).toMatchObject({ status: 'deleted', emailHash: hashEmail(userName) });
  expect(erased).not.toHaveProperty('email');
  expect(erased).not.toHaveProperty('firstName');
  expect(erased).not.toHaveProperty('externalId');
  expect((await t.h.models.deactivations.findById(runs[1]!._id).lean())?.status).toBe('completed');
  expect(
    await t.h.models.auditEvents.findOne({ subjectId: id, type: 'user.deleted' }).lean(),
  ).toMatchObject({ actorId: 'system:scim' });
  expect(await t.h.models.tokens.countDocuments({ userId: id })).toBe(0);
  const gone = await t.scim(
    'get',
    orgId,
    `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`,
  );
  expect(scimBody(gone)).toMatchObject({ totalResults: 0 });
});
