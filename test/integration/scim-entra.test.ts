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
  onlyRunCompleted,
  openScimHarness,
  runsOf,
  scimBody,
  scimError,
  scimSchemas,
  type ScimHarness,
} from '../support/scim-harness';

/**
 * Microsoft Entra ID's provisioning service, request by request, as Microsoft's "Develop and
 * plan provisioning for a SCIM endpoint" tutorial shows it: a userName lookup, a create with
 * the enterprise extension, an externalId lookup, PATCHes with capitalised ops, paths with
 * value filters and "True"/"False" strings, a soft delete (active "False") and, later, the
 * hard DELETE. Real workers run; the database and the runs' side effects are checked.
 */
let t: ScimHarness;
let orgId: string;

beforeAll(async () => {
  t = await openScimHarness('scimentra', { workers: true });
  const org = orgFixture();
  orgId = org._id;
  const admin = userFixture(orgId, { role: 'admin' });
  const admin2 = userFixture(orgId, { role: 'admin' });
  await insertFixtures(t.h.models, { organizations: [org], users: [admin, admin2] });
});

afterAll(async () => {
  await t.close();
});

interface EntraUser {
  id: string;
  userName: string;
  externalId?: string;
  active: boolean;
  name?: { givenName?: string; familyName?: string };
  emails: { value: string }[];
}

const patch = (...Operations: unknown[]): unknown => ({
  schemas: [scimSchemas.patchOp],
  Operations,
});
const disable = patch({ op: 'Replace', path: 'active', value: 'False' });
const enable = patch({ op: 'Replace', path: 'active', value: 'True' });

async function stored(id: string): Promise<User> {
  const user = await t.h.models.users.findById(id).lean();
  if (!user) throw new Error(`no user ${id}`);
  return user;
}

function filterPath(filter: string): string {
  return `/Users?filter=${encodeURIComponent(filter)}`;
}

async function provision(userName: string, externalId: string): Promise<EntraUser> {
  const lookup = await t.scim('get', orgId, filterPath(`userName eq "${userName}"`));
  expect(scimBody(lookup)).toMatchObject({ totalResults: 0, Resources: [] });
  const res = await t.scim('post', orgId, '/Users', {
    body: {
      schemas: [scimSchemas.user, scimSchemas.enterpriseUser],
      externalId,
      userName,
      active: true,
      emails: [{ primary: true, type: 'work', value: userName }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
      [scimSchemas.enterpriseUser]: { employeeNumber: '701984', department: 'Tour Operations' },
    },
  });
  expect(res.status).toBe(201);
  return scimBody<EntraUser>(res);
}

it('provisions, updates, disables, enables and deletes a user as Entra ID does', async () => {
  const userName = 'Test_User_ab6490ee@Contoso.com';
  const externalId = '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef';
  const user = await provision(userName, externalId);
  const id = user.id;
  expect(user).toMatchObject({ userName: userName.toLowerCase(), externalId, active: true });
  expect(await stored(id)).toMatchObject({
    kind: 'employee',
    role: 'member',
    firstName: 'givenName',
  });
  const token = tokenFixture(orgId, id);
  const subscription = subscriptionFixture(orgId, id, { status: 'trialing' });
  await insertFixtures(t.h.models, { tokens: [token], subscriptions: [subscription] });

  // Entra matches by externalId (mailNickname) or by userName in any case.
  for (const filter of [
    `externalId eq "${externalId}"`,
    `userName eq "${userName.toUpperCase()}"`,
  ]) {
    expect(scimBody(await t.scim('get', orgId, filterPath(filter)))).toMatchObject({
      totalResults: 1,
      Resources: [{ id }],
    });
  }

  // An attribute update: several capitalised ops, a value-filtered path, an ignored attribute.
  const updated = await t.scim('patch', orgId, `/Users/${id}`, {
    body: patch(
      { op: 'Add', path: 'externalId', value: 'ext-updated' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
      { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      { op: 'Replace', path: 'displayName', value: 'Updated Display' },
      { op: 'Replace', path: `${scimSchemas.enterpriseUser}:department`, value: 'Sales' },
    ),
  });
  expect(updated.status).toBe(200);
  expect(scimBody<EntraUser>(updated)).toMatchObject({
    externalId: 'ext-updated',
    name: { familyName: 'updatedFamilyName' },
    // emails are the userName: an update of the address goes through userName.
    emails: [{ value: userName.toLowerCase() }],
  });
  expect(await stored(id)).toMatchObject({
    externalId: 'ext-updated',
    lastName: 'updatedFamilyName',
  });

  // Soft delete: active "False", a string with a capital R op.
  const disabled = await t.scim('patch', orgId, `/Users/${id}`, { body: disable });
  expect([disabled.status, scimBody<EntraUser>(disabled).active]).toEqual([200, false]);
  // Entra's next cycle sends it again while the run may still be going.
  expect((await t.scim('patch', orgId, `/Users/${id}`, { body: disable })).status).toBe(200);
  const run = await onlyRunCompleted(t.h, id);
  expect(run).toMatchObject({ source: 'scim', actorId: 'system:scim' });
  expect(await t.h.models.tokens.findById(token._id).lean()).toMatchObject({
    revokedReason: 'user_deactivated',
  });
  expect(await t.h.models.subscriptions.findById(subscription._id).lean()).toMatchObject({
    status: 'canceled',
  });
  expect(await t.h.models.blocklist.countDocuments({ orgId, emailHash: hashEmail(userName) })).toBe(
    1,
  );
  const listed = scimBody<{ Resources: EntraUser[] }>(
    await t.scim('get', orgId, filterPath(`externalId eq "ext-updated"`)),
  );
  expect(listed.Resources).toMatchObject([{ id, active: false }]);

  // Enable: "True".
  const enabled = await t.scim('patch', orgId, `/Users/${id}`, { body: enable });
  expect([enabled.status, scimBody<EntraUser>(enabled).active]).toEqual([200, true]);
  expect(await stored(id)).toMatchObject({ status: 'active' });
  expect(await t.h.models.blocklist.countDocuments({ orgId, emailHash: hashEmail(userName) })).toBe(
    0,
  );

  // Soft delete again, then the hard DELETE once the run has completed: erased at once.
  expect((await t.scim('patch', orgId, `/Users/${id}`, { body: disable })).status).toBe(200);
  const runs = await runsOf(t.h, id);
  expect(runs).toHaveLength(2);
  await waitForRunStatus(t.h.models, runs[1]!._id, 'completed');
  expect((await t.scim('delete', orgId, `/Users/${id}`)).status).toBe(204);
  expect(await stored(id)).toMatchObject({ status: 'deleted' });
  expect(scimError(await t.scim('get', orgId, `/Users/${id}`)).status).toBe('404');
  const erased = await until(async () => {
    const now = await stored(id);
    return now.deletedAt ? now : undefined;
  }, 'the erasure');
  expect(erased).not.toHaveProperty('email');
  expect(erased).not.toHaveProperty('externalId');
  expect(await runsOf(t.h, id)).toHaveLength(2);
});

it('waits for a running deactivation before enabling the user again', async () => {
  const user = await provision('quick.flip@contoso.com', 'flip-1');
  await insertFixtures(t.h.models, {
    tokens: [tokenFixture(orgId, user.id), tokenFixture(orgId, user.id)],
    opportunities: [opportunityFixture(orgId, user.id)],
  });
  expect((await t.scim('patch', orgId, `/Users/${user.id}`, { body: disable })).status).toBe(200);
  // At once, before the workers could finish the run.
  const enabled = await t.scim('patch', orgId, `/Users/${user.id}`, { body: enable });
  expect([enabled.status, scimBody<EntraUser>(enabled).active]).toEqual([200, true]);
  const [run] = await runsOf(t.h, user.id);
  expect(run?.status).toBe('completed');
  expect(await stored(user.id)).toMatchObject({ status: 'active' });
});

it('refuses to disable a team leader with 409 naming the teams, and changes nothing', async () => {
  const user = await provision('team.lead@contoso.com', 'lead-1');
  const team = teamFixture(orgId, { leaderId: user.id, memberIds: [user.id] });
  await insertFixtures(t.h.models, { teams: [team] });
  const before = await stored(user.id);
  const res = await t.scim('patch', orgId, `/Users/${user.id}`, { body: disable });
  expect(res.status).toBe(409);
  const error = scimError(res);
  expect(error.detail).toMatch(/^team_leader: /);
  expect(error.detail).toContain(team._id);
  const deleted = await t.scim('delete', orgId, `/Users/${user.id}`);
  expect(deleted.status).toBe(409);
  expect(await stored(user.id)).toEqual(before);
  expect(await runsOf(t.h, user.id)).toHaveLength(0);
  expect((await t.scim('get', orgId, `/Users/${user.id}`)).status).toBe(200);
});

it('erases a user deleted while their run was still going, once it completes', async () => {
  const user = await provision('deleted.early@contoso.com', 'early-1');
  await insertFixtures(t.h.models, { tokens: [tokenFixture(orgId, user.id)] });
  expect((await t.scim('delete', orgId, `/Users/${user.id}`)).status).toBe(204);
  expect((await t.scim('get', orgId, `/Users/${user.id}`)).status).toBe(404);
  const run = await onlyRunCompleted(t.h, user.id);
  expect(run.source).toBe('scim');
  // The reconciler (every second here) performs the deletion the DELETE asked for.
  const erased = await until(async () => {
    const now = await stored(user.id);
    return now.deletedAt ? now : undefined;
  }, 'the erasure after the run');
  expect(erased).toMatchObject({ status: 'deleted', erasurePending: true });
  expect(await t.h.models.tokens.countDocuments({ userId: user.id })).toBe(0);
  expect(
    await t.h.models.auditEvents.findOne({ subjectId: user.id, type: 'user.deleted' }).lean(),
  ).toMatchObject({ actorId: 'system:scim' });
});
