import type { Response } from 'supertest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-key-repository';
import {
  deactivationApiHelpers,
  deactivationsPath,
  expectError,
  useDeactivationApi,
} from '../support/deactivation-api';
import { newId, userFixture } from '../../test-kit/factories';

/* Who may call: 401, 403 by scope and organization (never revealing what exists), 404. */

const t = useDeactivationApi('deactaccess');
const { api, post, get, seedOrg, expectUntouched } = deactivationApiHelpers(t);

describe('401: who are you', () => {
  it('refuses a request without Authorization, with a wrong key, or a revoked key', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const body = { userId: users[0]!._id, actorId: admin._id };

    expectError(await api().post(deactivationsPath(orgId)).send(body), 401, 'unauthorized');
    expectError(await post(orgId, body, { key: 'ob_not_a_real_key' }), 401, 'unauthorized');
    expectError(
      await api()
        .post(deactivationsPath(orgId))
        .set('Authorization', `Basic ${t.adminKey}`)
        .send(body),
      401,
      'unauthorized',
    );
    const revoked = await createApiKey(t.h.models, { name: 'old', scopes: ['*'], orgIds: ['*'] });
    expect((await post(orgId, body, { key: revoked.key, query: '?dryRun=true' })).status).toBe(200);
    expect(await revokeApiKey(t.h.models, revoked.id)).toBe(true);
    expectError(await post(orgId, body, { key: revoked.key }), 401, 'unauthorized');
    expectError(await get(deactivationsPath(orgId), revoked.key), 401, 'unauthorized');
    // 401 comes before the body is read: a bad body does not turn it into a 400.
    expectError(await api().post(deactivationsPath(orgId)).send({ nope: 1 }), 401, 'unauthorized');
    await expectUntouched(users[0]!._id);
  });
});

describe('403: scope and organization, never revealing what exists', () => {
  it('refuses a read-only key on POST and a write-only key on GET', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const readOnly = await createApiKey(t.h.models, {
      name: 'ro',
      scopes: ['read'],
      orgIds: ['*'],
    });
    const writeOnly = await createApiKey(t.h.models, {
      name: 'wo',
      scopes: ['write'],
      orgIds: ['*'],
    });
    const body = { userId: users[0]!._id, actorId: admin._id };
    expectError(await post(orgId, body, { key: readOnly.key }), 403, 'forbidden');
    expectError(
      await post(orgId, body, { key: readOnly.key, query: '?dryRun=true' }),
      403,
      'forbidden',
    );
    expect((await get(deactivationsPath(orgId), readOnly.key)).status).toBe(200);
    expectError(await get(deactivationsPath(orgId), writeOnly.key), 403, 'forbidden');
    await expectUntouched(users[0]!._id);
  });

  it('answers a key bound to org A identically for an existing and a nonexistent org B', async () => {
    const a = await seedOrg((id) => [userFixture(id)]);
    const b = await seedOrg((id) => [userFixture(id), userFixture(id)]);
    const keyA = await createApiKey(t.h.models, {
      name: 'tenant-a',
      scopes: ['*'],
      orgIds: [a.orgId],
    });
    // A real run in org B, so that its id exists.
    const created = await post(b.orgId, { userId: b.users[1]!._id, actorId: b.admin._id });
    expect(created.status).toBe(202);
    const runB = created.body.id as string;

    const missingOrg = newId('org');
    const pairs: [() => Promise<Response>, () => Promise<Response>][] = [
      [
        () => post(b.orgId, { userId: b.users[0]!._id, actorId: b.admin._id }, { key: keyA.key }),
        () => post(missingOrg, { userId: newId('usr'), actorId: newId('usr') }, { key: keyA.key }),
      ],
      [
        () =>
          post(
            b.orgId,
            { userId: b.users[0]!._id, actorId: b.admin._id },
            { key: keyA.key, query: '?dryRun=true' },
          ),
        () =>
          post(
            missingOrg,
            { userId: newId('usr'), actorId: newId('usr') },
            { key: keyA.key, query: '?dryRun=true' },
          ),
      ],
      [
        () => get(`${deactivationsPath(b.orgId)}/${runB}`, keyA.key),
        () => get(`${deactivationsPath(missingOrg)}/${newId('run')}`, keyA.key),
      ],
      [
        () => get(`${deactivationsPath(b.orgId)}/${newId('run')}`, keyA.key),
        () => get(`${deactivationsPath(missingOrg)}/${runB}`, keyA.key),
      ],
      [
        () => get(deactivationsPath(b.orgId), keyA.key),
        () => get(deactivationsPath(missingOrg), keyA.key),
      ],
    ];
    const first = await pairs[0]![0]();
    const reference = expectError(first, 403, 'forbidden');
    for (const [existing, missing] of pairs) {
      const [x, y] = [await existing(), await missing()];
      expectError(x, 403, 'forbidden');
      expect({ status: y.status, body: y.body }).toEqual({ status: x.status, body: x.body });
      expect(x.body.error).toEqual(reference);
    }
    await expectUntouched(b.users[0]!._id);
    // The key still works for its own organization.
    expect((await get(deactivationsPath(a.orgId), keyA.key)).status).toBe(200);
  });

  it("answers org A's URL the same for org B's run or user as for ids that do not exist", async () => {
    const a = await seedOrg((id) => [userFixture(id)]);
    const b = await seedOrg((id) => [userFixture(id), userFixture(id)]);
    const created = await post(b.orgId, { userId: b.users[1]!._id, actorId: b.admin._id });
    expect(created.status).toBe(202);
    const runB = created.body.id as string;
    const missingRun = newId('run');

    const viaA = await get(`${deactivationsPath(a.orgId)}/${runB}`);
    const nowhere = await get(`${deactivationsPath(a.orgId)}/${missingRun}`);
    expectError(viaA, 404, 'not_found');
    expectError(nowhere, 404, 'not_found');
    expect(expectError(viaA, 404, 'not_found').message.replace(runB, '<id>')).toBe(
      expectError(nowhere, 404, 'not_found').message.replace(missingRun, '<id>'),
    );

    const missingUser = newId('usr');
    const userB = await post(a.orgId, { userId: b.users[0]!._id, actorId: a.admin._id });
    const noUser = await post(a.orgId, { userId: missingUser, actorId: a.admin._id });
    expectError(userB, 404, 'not_found');
    expectError(noUser, 404, 'not_found');
    expect(expectError(userB, 404, 'not_found').message.replace(b.users[0]!._id, '<id>')).toBe(
      expectError(noUser, 404, 'not_found').message.replace(missingUser, '<id>'),
    );
    await expectUntouched(b.users[0]!._id);

    const listA = await get(deactivationsPath(a.orgId));
    expect(listA.status).toBe(200);
    expect((listA.body.items as { id: string }[]).map((item) => item.id)).not.toContain(runB);
  });
});

describe('404: unknown organization, user or run', () => {
  it('answers 404 for an unknown organization with a key valid for every organization', async () => {
    const missingOrg = newId('org');
    const body = { userId: newId('usr'), actorId: newId('usr') };
    expectError(await post(missingOrg, body, { key: t.adminKey }), 404, 'not_found');
    expectError(
      await post(missingOrg, body, { key: t.adminKey, query: '?dryRun=true' }),
      404,
      'not_found',
    );
    expectError(
      await get(`${deactivationsPath(missingOrg)}/${newId('run')}`, t.adminKey),
      404,
      'not_found',
    );
    expect(await t.h.models.deactivations.countDocuments({ orgId: missingOrg })).toBe(0);
  });

  it('answers 404 when listing the runs of an unknown organization', async () => {
    expectError(await get(deactivationsPath(newId('org')), t.adminKey), 404, 'not_found');
  });

  it('answers 404 for an unknown user and an unknown run id', async () => {
    const { orgId, admin } = await seedOrg();
    const error = expectError(
      await post(orgId, { userId: newId('usr'), actorId: admin._id }),
      404,
      'not_found',
    );
    expect(error.message).toMatch(/user/i);
    expectError(await get(`${deactivationsPath(orgId)}/${newId('run')}`), 404, 'not_found');
  });

  it('answers 404 for an actorId that names no user of the organization, changing nothing', async () => {
    const other = await seedOrg();
    const { orgId, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    // An admin of another organization is no user of this one.
    for (const actorId of [newId('usr'), other.admin._id]) {
      for (const query of ['', '?dryRun=true']) {
        const res = await post(orgId, { userId: user._id, actorId }, { query });
        expect({ actorId, query, status: res.status }).toEqual({ actorId, query, status: 404 });
        expect(expectError(res, 404, 'not_found').message).toMatch(/actor/i);
      }
    }
    await expectUntouched(user._id);
    expect(await t.h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });
});
