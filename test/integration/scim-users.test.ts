import request from 'supertest';
import { assessDeactivation } from '../../src/deactivation/assess-deactivation';
import { newRun } from '../../src/deactivation/request-deactivation';
import type { User } from '../../src/models/user.model';
import { insertFixtures, orgFixture, teamFixture, userFixture } from '../../test-kit/factories';
import { acceptWithoutWorkers, openIdleProducer, type IdleProducer } from '../support/run-helpers';
import {
  openScimHarness,
  runsOf,
  scimBody,
  scimError,
  scimSchemas,
  type ScimHarness,
} from '../support/scim-harness';

// No workers: runs stay pending, which is how a provider's repeats meet a run still going.
let t: ScimHarness;
let orgId: string;
let otherOrgId: string;
let admin: User;
let admin2: User;
let idle: IdleProducer;

beforeAll(async () => {
  t = await openScimHarness('scimusers');
  idle = openIdleProducer();
  const org = orgFixture();
  const other = orgFixture();
  orgId = org._id;
  otherOrgId = other._id;
  admin = userFixture(orgId, { role: 'admin' });
  admin2 = userFixture(orgId, { role: 'admin' });
  await insertFixtures(t.h.models, { organizations: [org, other], users: [admin, admin2] });
});

afterAll(async () => {
  await idle.close();
  await t.close();
});

interface ScimUserBody {
  id: string;
  userName: string;
  externalId?: string;
  name?: { givenName?: string; familyName?: string };
  emails: { value: string; type: string; primary: boolean }[];
  active: boolean;
  meta: {
    version: string;
    location: string;
    resourceType: string;
    created: string;
    lastModified: string;
  };
  schemas: string[];
}

interface ListBody {
  schemas: string[];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: ScimUserBody[];
}

let sequence = 0;
function newUserBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  sequence += 1;
  return {
    schemas: [scimSchemas.user],
    userName: `Person.${sequence}.${Date.now()}@Example.com`,
    name: { givenName: 'Ada', familyName: `Lovelace${sequence}` },
    externalId: `ext-${sequence}`,
    active: true,
    ...overrides,
  };
}

async function create(overrides: Record<string, unknown> = {}): Promise<ScimUserBody> {
  const res = await t.scim('post', orgId, '/Users', { body: newUserBody(overrides) });
  expect(res.status).toBe(201);
  return scimBody<ScimUserBody>(res);
}

async function stored(id: string): Promise<User | null> {
  return t.h.models.users.findById(id).lean();
}

const patchBody = (...operations: unknown[]): unknown => ({
  schemas: [scimSchemas.patchOp],
  Operations: operations,
});

describe('discovery', () => {
  it('serves the ServiceProviderConfig, ResourceTypes and Schemas as scim+json', async () => {
    const spc = await t.scim('get', orgId, '/ServiceProviderConfig');
    expect(spc.status).toBe(200);
    expect(scimBody(spc)).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 200 },
      etag: { supported: true },
      sort: { supported: false },
      authenticationSchemes: [{ type: 'oauthbearertoken' }],
    });

    const types = scimBody<{ Resources: { id: string; endpoint: string; schema: string }[] }>(
      await t.scim('get', orgId, '/ResourceTypes'),
    );
    expect(types.Resources).toEqual([
      expect.objectContaining({ id: 'User', endpoint: '/Users', schema: scimSchemas.user }),
    ]);
    expect((await t.scim('get', orgId, '/ResourceTypes/User')).status).toBe(200);
    expect(scimError(await t.scim('get', orgId, '/ResourceTypes/Group')).status).toBe('404');

    const schemas = scimBody<{ Resources: { id: string; attributes: { name: string }[] }[] }>(
      await t.scim('get', orgId, '/Schemas'),
    );
    expect(schemas.Resources.map((schema) => schema.id)).toEqual([
      scimSchemas.user,
      'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
      'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
      'urn:ietf:params:scim:schemas:core:2.0:Schema',
    ]);
    expect(schemas.Resources[0]?.attributes.map((a) => a.name)).toEqual([
      'userName',
      'name',
      'emails',
      'active',
    ]);
    expect((await t.scim('get', orgId, `/Schemas/${scimSchemas.user}`)).status).toBe(200);
  });

  it('answers 405 with Allow for other methods on discovery endpoints', async () => {
    for (const path of ['/ServiceProviderConfig', '/ResourceTypes', '/Schemas']) {
      for (const method of ['post', 'put', 'patch', 'delete'] as const) {
        const res = await t.scim(method, orgId, path);
        expect([path, method, res.status]).toEqual([path, method, 405]);
        expect(res.headers.allow).toBe('GET');
        scimError(res);
      }
    }
    const users = await t.scim('delete', orgId, '/Users');
    expect(users.status).toBe(405);
    expect(users.headers.allow).toBe('GET, POST');
  });

  it('answers unknown SCIM paths with a SCIM 404', async () => {
    expect(scimError(await t.scim('get', orgId, '/Groups')).status).toBe('404');
    const outside = await request(t.server).get('/scim/v2/Users');
    expect(scimError(outside).status).toBe('404');
  });
});

describe('authentication and keys', () => {
  it('is 401 in SCIM shape without a key or with a wrong one', async () => {
    const missing = await request(t.server).get(`/scim/v2/orgs/${orgId}/Users`);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    scimError(missing);
    const wrong = await t.scim('get', orgId, '/Users', { key: 'ob_not-a-key' });
    expect(scimError(wrong).status).toBe('401');
  });

  it('is 403 for a key without the scim scope or bound to another organization', async () => {
    const readKey = await t.key(['read']);
    expect(scimError(await t.scim('get', orgId, '/Users', { key: readKey })).status).toBe('403');
    const otherOrgKey = await t.key(['scim'], [otherOrgId]);
    const res = await t.scim('get', orgId, '/Users', { key: otherOrgKey });
    expect(scimError(res).status).toBe('403');
    // Refused before anything is looked up: an unknown organization is also 403.
    expect((await t.scim('get', 'org_nope', '/Users', { key: otherOrgKey })).status).toBe(403);
  });

  it('lets a bound scim key and a * key in; an unknown organization is 404', async () => {
    const bound = await t.key(['scim'], [orgId]);
    expect((await t.scim('get', orgId, '/Users', { key: bound })).status).toBe(200);
    const all = await t.key(['*']);
    expect((await t.scim('get', orgId, '/Users', { key: all })).status).toBe(200);
    expect(scimError(await t.scim('get', 'org_nope', '/Users')).status).toBe('404');
  });

  it('refuses a scim-only key on /v1', async () => {
    const key = await t.key(['scim']);
    const res = await request(t.server)
      .get(`/v1/orgs/${orgId}/users`)
      .set('Authorization', `Bearer ${key}`);
    expect(res.status).toBe(403);
    expect((res.body as { error: { code: string } }).error.code).toBe('forbidden');
  });
});

describe('users: create, read, list', () => {
  it('creates an employee member with the email lower-cased, ETag and Location', async () => {
    const res = await t.scim('post', orgId, '/Users', {
      body: newUserBody({
        userName: 'Grace.Hopper@Example.COM',
        externalId: 'okta-00u1',
        emails: [{ value: 'Grace.Hopper@Example.COM', type: 'work', primary: true }],
        displayName: 'Grace Hopper',
        password: 'never-stored',
      }),
    });
    expect(res.status).toBe(201);
    const body = scimBody<ScimUserBody>(res);
    expect(body).toMatchObject({
      schemas: [scimSchemas.user],
      userName: 'grace.hopper@example.com',
      externalId: 'okta-00u1',
      emails: [{ value: 'grace.hopper@example.com', type: 'work', primary: true }],
      active: true,
      meta: { resourceType: 'User' },
    });
    expect(res.headers.etag).toBe(body.meta.version);
    expect(body.meta.version).toMatch(/^W\/".+"$/);
    expect(res.headers.location).toBe(body.meta.location);
    expect(body.meta.location).toMatch(new RegExp(`/scim/v2/orgs/${orgId}/Users/${body.id}$`));
    const user = await stored(body.id);
    expect(user).toMatchObject({
      orgId,
      kind: 'employee',
      role: 'member',
      status: 'active',
      email: 'grace.hopper@example.com',
      externalId: 'okta-00u1',
      lastLoginAt: null,
    });
    expect(JSON.stringify(user)).not.toContain('never-stored');
  });

  it('refuses a userName taken in the organization, whatever its case, with 409 uniqueness', async () => {
    const first = await create();
    const before = await t.h.models.users.countDocuments({ orgId });
    const res = await t.scim('post', orgId, '/Users', {
      body: newUserBody({ userName: first.userName.toUpperCase() }),
    });
    expect(res.status).toBe(409);
    expect(scimError(res).scimType).toBe('uniqueness');
    expect(await t.h.models.users.countDocuments({ orgId })).toBe(before);
    // Another organization may have the same address.
    const elsewhere = await t.scim('post', otherOrgId, '/Users', {
      body: newUserBody({ userName: first.userName }),
    });
    expect(elsewhere.status).toBe(201);
  });

  it('creates a user with active false and deactivates them through a run', async () => {
    const body = await create({ active: 'False' });
    expect(body.active).toBe(false);
    const runs = await runsOf(t.h, body.id);
    expect(runs).toMatchObject([{ source: 'scim', actorId: 'system:scim' }]);
  });

  it('reads a user; unknown users and other organizations’ users are 404', async () => {
    const created = await create();
    const res = await t.scim('get', orgId, `/Users/${created.id}`);
    expect(res.status).toBe(200);
    expect(scimBody<ScimUserBody>(res)).toEqual(created);
    expect(scimError(await t.scim('get', orgId, '/Users/usr_nope')).status).toBe('404');
    expect(scimError(await t.scim('get', otherOrgId, `/Users/${created.id}`)).status).toBe('404');
    const otherUser = userFixture(otherOrgId);
    await insertFixtures(t.h.models, { users: [otherUser] });
    expect((await t.scim('get', orgId, `/Users/${otherUser._id}`)).status).toBe(404);
  });

  it('answers If-None-Match with 304 while the version is current', async () => {
    const created = await create();
    const res = await t.scim('get', orgId, `/Users/${created.id}`, {
      headers: { 'If-None-Match': created.meta.version },
    });
    expect(res.status).toBe(304);
    const changed = await t.scim('get', orgId, `/Users/${created.id}`, {
      headers: { 'If-None-Match': 'W/"old"' },
    });
    expect(changed.status).toBe(200);
  });

  it('finds userName case-insensitively; no match is an empty ListResponse', async () => {
    const created = await create({ userName: 'Ada.Lookup@Example.com', externalId: 'AbC-1' });
    const list = async (filter: string): Promise<ListBody> => {
      const res = await t.scim('get', orgId, `/Users?filter=${encodeURIComponent(filter)}`);
      expect(res.status).toBe(200);
      return scimBody<ListBody>(res);
    };
    for (const filter of [
      'userName eq "Ada.Lookup@Example.com"',
      'username eq "ADA.LOOKUP@EXAMPLE.COM"',
      'emails[type eq "work"].value eq "ada.lookup@example.com"',
      'emails.value eq "Ada.Lookup@example.com"',
      'externalId eq "AbC-1"',
      'userName eq "ada.lookup@example.com" and active eq true',
      'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada.lookup@example.com"',
    ]) {
      const body = await list(filter);
      expect([filter, body.totalResults, body.Resources.map((r) => r.id)]).toEqual([
        filter,
        1,
        [created.id],
      ]);
    }
    const none = await list('userName eq "nobody@example.com"');
    expect(none).toEqual({
      schemas: [scimSchemas.listResponse],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
    expect((await list('externalId eq "abc-1"')).totalResults).toBe(0);
  });

  it('pages with startIndex and count in a stable order', async () => {
    const org = orgFixture();
    await insertFixtures(t.h.models, { organizations: [org] });
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      const res = await t.scim('post', org._id, '/Users', { body: newUserBody() });
      ids.push(scimBody<ScimUserBody>(res).id);
    }
    const page = async (startIndex: number, count: number): Promise<ListBody> =>
      scimBody<ListBody>(
        await t.scim('get', org._id, `/Users?startIndex=${startIndex}&count=${count}`),
      );
    const first = await page(1, 3);
    const second = await page(4, 3);
    const third = await page(7, 3);
    expect([first.totalResults, first.itemsPerPage, first.startIndex]).toEqual([7, 3, 1]);
    expect([...first.Resources, ...second.Resources, ...third.Resources].map((r) => r.id)).toEqual(
      ids,
    );
    expect((await page(1, 3)).Resources.map((r) => r.id)).toEqual(first.Resources.map((r) => r.id));
    const countOnly = await page(1, 0);
    expect([countOnly.totalResults, countOnly.Resources]).toEqual([7, []]);
    // Out-of-range values are read as RFC 7644 says: startIndex < 1 is 1, count < 0 is 0.
    expect((await page(-5, 2)).Resources.map((r) => r.id)).toEqual(ids.slice(0, 2));
    expect((await page(1, -1)).itemsPerPage).toBe(0);
  });

  it('lists and returns an inactive user with active false', async () => {
    const created = await create();
    const patched = await t.scim('patch', orgId, `/Users/${created.id}`, {
      body: patchBody({ op: 'replace', value: { active: false } }),
    });
    expect(scimBody<ScimUserBody>(patched).active).toBe(false);
    const get = scimBody<ScimUserBody>(await t.scim('get', orgId, `/Users/${created.id}`));
    expect(get.active).toBe(false);
    const listed = scimBody<ListBody>(
      await t.scim(
        'get',
        orgId,
        `/Users?filter=${encodeURIComponent('active eq false')}&count=200`,
      ),
    );
    expect(listed.Resources.map((r) => r.id)).toContain(created.id);
    expect(listed.Resources.every((r) => !r.active)).toBe(true);
  });

  it('honours attributes and excludedAttributes, on GET and on /.search', async () => {
    const created = await create();
    const only = scimBody(
      await t.scim('get', orgId, `/Users/${created.id}?attributes=userName,name.givenName`),
    );
    expect(only).toEqual({
      schemas: [scimSchemas.user],
      id: created.id,
      userName: created.userName,
      name: { givenName: 'Ada' },
    });
    const without = scimBody(
      await t.scim('get', orgId, `/Users/${created.id}?excludedAttributes=emails,name.familyName`),
    );
    expect(without).not.toHaveProperty('emails');
    expect(without).toMatchObject({ name: { givenName: 'Ada' }, id: created.id });
    const searched = await t.scim('post', orgId, '/.search', {
      body: {
        schemas: [scimSchemas.searchRequest],
        filter: `userName eq "${created.userName}"`,
        attributes: ['externalId'],
      },
    });
    expect(scimBody(searched)).toMatchObject({
      totalResults: 1,
      Resources: [{ id: created.id, externalId: created.externalId, schemas: [scimSchemas.user] }],
    });
    expect(Object.keys((scimBody<ListBody>(searched).Resources[0] ?? {}) as object).sort()).toEqual(
      ['externalId', 'id', 'schemas'],
    );
  });
});

describe('users: replace, patch, delete', () => {
  it('replaces with PUT: absent attributes are cleared, the ETag changes', async () => {
    const created = await create();
    const res = await t.scim('put', orgId, `/Users/${created.id}`, {
      body: {
        schemas: [scimSchemas.user],
        userName: created.userName,
        name: { givenName: 'Augusta' },
      },
    });
    expect(res.status).toBe(200);
    const body = scimBody<ScimUserBody>(res);
    expect(body).toMatchObject({ name: { givenName: 'Augusta' }, active: true });
    expect(body).not.toHaveProperty('externalId');
    expect(body.meta.version).not.toBe(created.meta.version);
    expect(await stored(created.id)).toMatchObject({ firstName: 'Augusta' });
    expect((await stored(created.id))?.lastName).toBeUndefined();
  });

  it('is 412 for a stale If-Match and changes nothing; a current one passes', async () => {
    const created = await create();
    const before = await stored(created.id);
    for (const method of ['put', 'patch', 'delete'] as const) {
      const res = await t.scim(method, orgId, `/Users/${created.id}`, {
        headers: { 'If-Match': 'W/"stale"' },
        ...(method === 'delete'
          ? {}
          : {
              body:
                method === 'put'
                  ? { schemas: [scimSchemas.user], userName: 'x@example.com', active: false }
                  : patchBody({ op: 'replace', path: 'active', value: false }),
            }),
      });
      expect([method, res.status]).toEqual([method, 412]);
      scimError(res);
    }
    expect(await stored(created.id)).toEqual(before);
    expect(await runsOf(t.h, created.id)).toHaveLength(0);
    const ok = await t.scim('patch', orgId, `/Users/${created.id}`, {
      headers: { 'If-Match': created.meta.version },
      body: patchBody({ op: 'replace', path: 'name.givenName', value: 'Augusta' }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).not.toBe(created.meta.version);
  });

  it('deactivates once, however often the provider repeats itself', async () => {
    const created = await create();
    const okta = patchBody({ op: 'replace', value: { active: false } });
    const entra = patchBody({ op: 'Replace', path: 'active', value: 'False' });
    const first = await t.scim('patch', orgId, `/Users/${created.id}`, { body: okta });
    expect(first.status).toBe(200);
    expect(scimBody<ScimUserBody>(first).active).toBe(false);
    // The run is still pending (no workers here): the repeats meet it going.
    for (const body of [okta, entra, okta]) {
      const again = await t.scim('patch', orgId, `/Users/${created.id}`, { body });
      expect(again.status).toBe(200);
      expect(scimBody<ScimUserBody>(again).active).toBe(false);
    }
    const put = await t.scim('put', orgId, `/Users/${created.id}`, {
      body: { ...newUserBody({ userName: created.userName, active: false }) },
    });
    expect(put.status).toBe(200);
    const runs = await runsOf(t.h, created.id);
    expect(runs).toMatchObject([
      { source: 'scim', actorId: 'system:scim', status: 'pending', orgId },
    ]);
    expect(await stored(created.id)).toMatchObject({
      status: 'inactive',
      deactivatedBy: 'system:scim',
      deactivationId: runs[0]?._id,
    });
  });

  it('answers 200 and inactive to every one of simultaneous deactivations, with one run', async () => {
    const body = patchBody({ op: 'Replace', path: 'active', value: 'False' });
    // Several rounds: a loser of the race used to answer while the winner had written its run
    // but not yet switched the user, showing the user still active.
    for (let round = 0; round < 6; round += 1) {
      const created = await create();
      const answers = await Promise.all(
        [1, 2, 3, 4].map(() => t.scim('patch', orgId, `/Users/${created.id}`, { body })),
      );
      expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((res) => scimBody<ScimUserBody>(res).active)).toEqual([
        false,
        false,
        false,
        false,
      ]);
      expect(await runsOf(t.h, created.id)).toHaveLength(1);
    }
  });

  /**
   * What a simultaneous request leaves while it is half-way: its run holds the user's claim and
   * the user is still active. Returns the run; `settle` finishes or abandons that request.
   */
  async function claimedByRacingRequest(userId: string) {
    const user = await stored(userId);
    const { plan } = await assessDeactivation(
      t.h.models,
      { orgId, userId, actorId: admin._id, source: 'api' },
      new Date(),
      { counts: false },
    );
    const run = newRun(
      { orgId, userId, actorId: admin._id, source: 'api' },
      user!,
      plan,
      new Date(),
    );
    await t.h.models.deactivations.insertMany([run]);
    return run;
  }

  /** Deactivates over SCIM while the racing request settles (`settle`) 300 ms later. */
  async function deactivateWhileRacing(
    userId: string,
    settle: () => Promise<unknown>,
  ): Promise<ScimUserBody> {
    const body = patchBody({ op: 'Replace', path: 'active', value: 'False' });
    const [res] = await Promise.all([
      t.scim('patch', orgId, `/Users/${userId}`, { body }),
      new Promise((resolve) => setTimeout(resolve, 300)).then(settle),
    ]);
    expect(res.status).toBe(200);
    return scimBody<ScimUserBody>(res);
  }

  it('answers inactive while a simultaneous request holds the claim, once it switches the user', async () => {
    const created = await create();
    const racing = await claimedByRacingRequest(created.id);
    const answer = await deactivateWhileRacing(created.id, () =>
      t.h.models.users.updateOne(
        { _id: created.id },
        { $set: { status: 'inactive', deactivationId: racing._id, deactivatedBy: admin._id } },
      ),
    );
    expect(answer.active).toBe(false);
    expect((await runsOf(t.h, created.id)).map((run) => run._id)).toEqual([racing._id]);
  });

  it('accepts its own run when the simultaneous request gives the claim back', async () => {
    const created = await create();
    const racing = await claimedByRacingRequest(created.id);
    const answer = await deactivateWhileRacing(created.id, () =>
      t.h.models.deactivations.deleteOne({ _id: racing._id }),
    );
    expect(answer.active).toBe(false);
    expect(await runsOf(t.h, created.id)).toMatchObject([
      { source: 'scim', actorId: 'system:scim', status: 'pending' },
    ]);
  });

  it('answers 200 to a deactivation of a user already made inactive through the API', async () => {
    const user = userFixture(orgId);
    await insertFixtures(t.h.models, { users: [user] });
    const run = await acceptWithoutWorkers(
      t.h.models,
      idle,
      { orgId, userId: user._id, actorId: admin._id, source: 'api', reason: null },
      new Date(),
      `run_${user._id}`,
    );
    const res = await t.scim('patch', orgId, `/Users/${user._id}`, {
      body: patchBody({ op: 'Replace', path: 'active', value: 'False' }),
    });
    expect(res.status).toBe(200);
    expect(scimBody<ScimUserBody>(res).active).toBe(false);
    expect((await runsOf(t.h, user._id)).map((r) => r._id)).toEqual([run._id]);
  });

  it('is visible in /v1 with source scim', async () => {
    const created = await create();
    await t.scim('patch', orgId, `/Users/${created.id}`, {
      body: patchBody({ op: 'replace', value: { active: false } }),
    });
    const readKey = await t.key(['read']);
    const res = await request(t.server)
      .get(`/v1/orgs/${orgId}/deactivations?userId=${created.id}`)
      .set('Authorization', `Bearer ${readKey}`);
    expect(res.status).toBe(200);
    expect((res.body as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ userId: created.id, source: 'scim', actorId: 'system:scim' }),
    ]);
  });

  it('refuses to deactivate a team leader or the last admin with 409, and changes nothing', async () => {
    const leader = userFixture(orgId);
    const team = teamFixture(orgId, { leaderId: leader._id, memberIds: [leader._id] });
    const soloOrg = orgFixture();
    const soloAdmin = userFixture(soloOrg._id, { role: 'admin' });
    await insertFixtures(t.h.models, {
      organizations: [soloOrg],
      users: [leader, soloAdmin],
      teams: [team],
    });
    const leaderBefore = await stored(leader._id);
    const refused = await t.scim('patch', orgId, `/Users/${leader._id}`, {
      body: patchBody(
        { op: 'replace', path: 'name.givenName', value: 'Changed' },
        { op: 'replace', path: 'active', value: false },
      ),
    });
    expect(refused.status).toBe(409);
    const error = scimError(refused);
    expect(error.detail).toContain('team_leader');
    expect(error.detail).toContain(team._id);
    expect(await stored(leader._id)).toEqual(leaderBefore);
    expect(await runsOf(t.h, leader._id)).toHaveLength(0);

    const lastAdmin = await t.scim('delete', soloOrg._id, `/Users/${soloAdmin._id}`);
    expect(lastAdmin.status).toBe(409);
    expect(scimError(lastAdmin).detail).toContain('last_admin');
    expect(await stored(soloAdmin._id)).toMatchObject({ status: 'active' });
    expect(await stored(soloAdmin._id)).not.toHaveProperty('erasurePending');
    expect((await t.scim('get', soloOrg._id, `/Users/${soloAdmin._id}`)).status).toBe(200);
  });

  it('lets system:scim deactivate an admin while another admin remains', async () => {
    const res = await t.scim('patch', orgId, `/Users/${admin2._id}`, {
      body: patchBody({ op: 'replace', path: 'active', value: false }),
    });
    expect(res.status).toBe(200);
    expect(await stored(admin2._id)).toMatchObject({ status: 'inactive' });
  });

  it('deletes at once for SCIM: 204, then 404 everywhere; the user waits for their run', async () => {
    const created = await create();
    const res = await t.scim('delete', orgId, `/Users/${created.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(scimError(await t.scim('get', orgId, `/Users/${created.id}`)).status).toBe('404');
    expect((await t.scim('delete', orgId, `/Users/${created.id}`)).status).toBe(404);
    expect(
      (
        await t.scim('patch', orgId, `/Users/${created.id}`, {
          body: patchBody({ op: 'replace', value: { active: true } }),
        })
      ).status,
    ).toBe(404);
    const listed = scimBody<ListBody>(
      await t.scim(
        'get',
        orgId,
        `/Users?filter=${encodeURIComponent(`userName eq "${created.userName}"`)}`,
      ),
    );
    expect(listed.totalResults).toBe(0);
    // Its run is pending (no workers): deactivated, marked, not erased yet.
    expect(await runsOf(t.h, created.id)).toMatchObject([{ source: 'scim', status: 'pending' }]);
    expect(await stored(created.id)).toMatchObject({
      status: 'inactive',
      erasurePending: true,
      email: created.userName,
    });
  });

  it('erases at once a user whose deactivation has already completed', async () => {
    const user = userFixture(orgId);
    await insertFixtures(t.h.models, { users: [user] });
    const run = await acceptWithoutWorkers(
      t.h.models,
      idle,
      { orgId, userId: user._id, actorId: admin._id, source: 'api', reason: null },
      new Date(),
      `run_done_${user._id}`,
    );
    await t.h.models.deactivations.updateOne(
      { _id: run._id },
      { $set: { status: 'completed', completedAt: new Date() } },
    );
    expect((await t.scim('delete', orgId, `/Users/${user._id}`)).status).toBe(204);
    expect(await stored(user._id)).toMatchObject({ status: 'deleted', erasurePending: true });
    const event = await t.h.models.auditEvents
      .findOne({ subjectId: user._id, type: 'user.deleted' })
      .lean();
    expect(event).toMatchObject({ actorId: 'system:scim' });
  });
});

describe('bad requests get a SCIM error and change nothing', () => {
  let target: ScimUserBody;
  let taken: ScimUserBody;
  let before: User | null;

  beforeAll(async () => {
    target = await create();
    taken = await create();
    before = await stored(target.id);
  });

  afterEach(async () => {
    expect(await stored(target.id)).toEqual(before);
    expect(await runsOf(t.h, target.id)).toHaveLength(0);
  });

  const path = (): string => `/Users/${target.id}`;

  it.each([
    ['a malformed filter', 'userName eq', 'invalidFilter'],
    ['an unsupported operator', 'userName co "a"', 'invalidFilter'],
    ['an unsupported attribute', 'displayName eq "Ada"', 'invalidFilter'],
    ['an "or"', 'userName eq "a" or userName eq "b"', 'invalidFilter'],
  ])('%s in a filter (%s) is 400 invalidFilter', async (_what, filter, scimType) => {
    const res = await t.scim('get', orgId, `/Users?filter=${encodeURIComponent(filter)}`);
    expect(res.status).toBe(400);
    expect(scimError(res).scimType).toBe(scimType);
  });

  it('a non-integer startIndex or count is 400 invalidValue', async () => {
    for (const query of ['startIndex=abc', 'count=1.5', 'count=1&count=2']) {
      const res = await t.scim('get', orgId, `/Users?${query}`);
      expect([query, res.status, scimError(res).scimType]).toEqual([query, 400, 'invalidValue']);
    }
  });

  it.each([
    [
      'an unknown attribute path',
      [{ op: 'replace', path: 'favouriteColour', value: 'red' }],
      'invalidPath',
    ],
    [
      'an unknown key in a path-less value',
      [{ op: 'replace', value: { shoeSize: 42 } }],
      'invalidPath',
    ],
    [
      'active of the wrong type',
      [{ op: 'replace', path: 'active', value: 'nope' }],
      'invalidValue',
    ],
    ['userName of the wrong type', [{ op: 'replace', value: { userName: 7 } }], 'invalidValue'],
    ['an unknown op', [{ op: 'merge', path: 'active', value: false }], 'invalidSyntax'],
    ['a read-only attribute', [{ op: 'replace', path: 'id', value: 'x' }], 'mutability'],
    [
      'one bad operation among good ones',
      [
        { op: 'replace', path: 'active', value: false },
        { op: 'replace', path: 'name.givenName', value: 'X' },
        { op: 'replace', path: 'nope', value: 1 },
      ],
      'invalidPath',
    ],
  ])('PATCH with %s is a 400 with a scimType', async (_what, operations, scimType) => {
    const res = await t.scim('patch', orgId, path(), { body: patchBody(...operations) });
    expect(res.status).toBe(400);
    expect(scimError(res).scimType).toBe(scimType);
  });

  it('a userName taken is 409 uniqueness, by PATCH and by PUT', async () => {
    const patch = await t.scim('patch', orgId, path(), {
      body: patchBody({ op: 'replace', path: 'userName', value: taken.userName.toUpperCase() }),
    });
    expect([patch.status, scimError(patch).scimType]).toEqual([409, 'uniqueness']);
    const put = await t.scim('put', orgId, path(), {
      body: newUserBody({ userName: taken.userName, active: false }),
    });
    expect([put.status, scimError(put).scimType]).toEqual([409, 'uniqueness']);
  });

  it('a PUT of a wrong shape is 400', async () => {
    for (const body of [
      { userName: 'x@example.com' },
      { schemas: [scimSchemas.user] },
      { schemas: [scimSchemas.user], userName: 'x@example.com', active: 'perhaps' },
      { schemas: [scimSchemas.user], userName: 'x@example.com', hobby: 'chess' },
    ]) {
      const res = await t.scim('put', orgId, path(), { body });
      expect(res.status).toBe(400);
      scimError(res);
    }
  });

  it('a user of another organization is 404', async () => {
    const res = await t.scim('patch', otherOrgId, path(), {
      body: patchBody({ op: 'replace', path: 'active', value: false }),
    });
    expect(scimError(res).status).toBe('404');
    expect((await t.scim('delete', otherOrgId, path())).status).toBe(404);
    expect(
      (await t.scim('put', otherOrgId, path(), { body: newUserBody({ active: false }) })).status,
    ).toBe(404);
  });

  it('a body over 100 kB is 413, invalid JSON 400, another content type 415, no body 400', async () => {
    const big = await t.scim('patch', orgId, path(), {
      body: patchBody({
        op: 'replace',
        value: { active: false, displayName: 'x'.repeat(110_000) },
      }),
    });
    expect(scimError(big).status).toBe('413');
    const invalid = await request(t.server)
      .patch(`/scim/v2/orgs/${orgId}${path()}`)
      .set('Authorization', `Bearer ${await t.key()}`)
      .set('Content-Type', 'application/scim+json')
      .send('{"schemas": [');
    expect([invalid.status, scimError(invalid).scimType]).toEqual([400, 'invalidSyntax']);
    const text = await request(t.server)
      .patch(`/scim/v2/orgs/${orgId}${path()}`)
      .set('Authorization', `Bearer ${await t.key()}`)
      .set('Content-Type', 'text/plain')
      .send('active=false');
    expect(scimError(text).status).toBe('415');
    const empty = await t.scim('patch', orgId, path());
    expect([empty.status, scimError(empty).scimType]).toEqual([400, 'invalidSyntax']);
  });

  it('accepts application/json as well as application/scim+json', async () => {
    const res = await request(t.server)
      .patch(`/scim/v2/orgs/${orgId}${path()}`)
      .set('Authorization', `Bearer ${await t.key()}`)
      .send(patchBody({ op: 'replace', path: 'displayName', value: 'ignored' }) as object);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  });
});
