import type { Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import {
  deactivationApiHelpers,
  deactivationsPath,
  expectError,
  useDeactivationApi,
} from '../support/deactivation-api';
import { userFixture } from '../../test-kit/factories';

/* Reading runs: one by id, and the cursor-paged list. */

const t = useDeactivationApi('deactlist');
const { post, get, seedOrg } = deactivationApiHelpers(t);

describe('GET a run and the list', () => {
  it('returns the run as accepted', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const created = await post(orgId, { userId: users[0]!._id, actorId: admin._id });
    expect(created.status).toBe(202);
    const res = await get(created.headers.location!);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created.body);
    const readOnly = await createApiKey(t.h.models, {
      name: 'r',
      scopes: ['read'],
      orgIds: [orgId],
    });
    expect((await get(created.headers.location!, readOnly.key)).body).toEqual(created.body);
  });

  it('lists newest first, filters by status and userId, and pages by cursor', async () => {
    const seeded = await seedOrg((id) => Array.from({ length: 5 }, () => userFixture(id)));
    const { orgId, admin } = seeded;
    const created: { id: string; userId: string }[] = [];
    for (const user of seeded.users) {
      const res = await post(orgId, { userId: user._id, actorId: admin._id });
      expect(res.status).toBe(202);
      created.push({ id: res.body.id as string, userId: user._id });
    }
    // One POST after the other, each many store round trips long: distinct creation instants,
    // so "newest first" has one answer (checked rather than slept for).
    const createdAt = created.map(async (run) =>
      (await t.h.models.deactivations.findById(run.id).lean())?.createdAt.getTime(),
    );
    expect(new Set(await Promise.all(createdAt)).size).toBe(created.length);
    const newestFirst = created.map((run) => run.id).reverse();

    const pages: { id: string }[][] = [];
    let cursor: string | null = null;
    do {
      const query = `?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const res: Response = await get(`${deactivationsPath(orgId)}${query}`);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body as object).sort()).toEqual(['items', 'nextCursor']);
      pages.push(res.body.items as { id: string }[]);
      cursor = res.body.nextCursor as string | null;
      expect(pages.length).toBeLessThanOrEqual(3);
    } while (cursor !== null);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    const listed = pages.flat().map((item) => item.id);
    expect(new Set(listed).size).toBe(5);
    expect(listed).toEqual(newestFirst);
    expect(pages[0]![0]).toEqual(
      (await get(`${deactivationsPath(orgId)}/${newestFirst[0]!}`)).body,
    );

    const all = await get(deactivationsPath(orgId));
    expect((all.body.items as { id: string }[]).map((item) => item.id)).toEqual(newestFirst);
    expect(all.body.nextCursor).toBeNull();

    const target = created[2]!;
    const byUser = await get(`${deactivationsPath(orgId)}?userId=${target.userId}`);
    expect(byUser.status).toBe(200);
    expect((byUser.body.items as { id: string }[]).map((item) => item.id)).toEqual([target.id]);

    await t.h.models.deactivations.updateOne(
      { _id: target.id },
      { $set: { status: 'completed', completedAt: new Date() } },
    );
    const completed = await get(`${deactivationsPath(orgId)}?status=completed`);
    expect(
      (completed.body.items as { id: string; status: string }[]).map((i) => [i.id, i.status]),
    ).toEqual([[target.id, 'completed']]);
    const pending = await get(`${deactivationsPath(orgId)}?status=pending&limit=10`);
    expect((pending.body.items as { id: string }[]).map((item) => item.id)).toEqual(
      newestFirst.filter((id) => id !== target.id),
    );
    const none = await get(
      `${deactivationsPath(orgId)}?status=completed&userId=${created[0]!.userId}`,
    );
    expect(none.body).toEqual({ items: [], nextCursor: null });

    // Pages of a filtered list stay within the filter.
    const firstPending = await get(`${deactivationsPath(orgId)}?status=pending&limit=3`);
    const nextPending = await get(
      `${deactivationsPath(orgId)}?status=pending&limit=3&cursor=${encodeURIComponent(firstPending.body.nextCursor as string)}`,
    );
    expect(
      [
        ...(firstPending.body.items as { id: string }[]),
        ...(nextPending.body.items as { id: string }[]),
      ].map((item) => item.id),
    ).toEqual(newestFirst.filter((id) => id !== target.id));
    expect(nextPending.body.nextCursor).toBeNull();
  });

  it('refuses a malformed cursor and other bad list queries with 400', async () => {
    const { orgId } = await seedOrg();
    const list = (query: string): Promise<Response> => get(`${deactivationsPath(orgId)}${query}`);
    const bad = [
      '?cursor=not-a-cursor',
      `?cursor=${Buffer.from('[1]').toString('base64url')}`,
      `?cursor=${Buffer.from('{"a":1}').toString('base64url')}`,
      `?cursor=${Buffer.from('[1,{"$gt":""}]').toString('base64url')}`,
      // Tampered with: the right shape, values of the wrong type or out of range (was a 500).
      `?cursor=${Buffer.from('["yesterday","run_x"]').toString('base64url')}`,
      `?cursor=${Buffer.from('[1e300,"run_x"]').toString('base64url')}`,
      `?cursor=${Buffer.from('[1.5,"run_x"]').toString('base64url')}`,
      `?cursor=${Buffer.from('[null,"run_x"]').toString('base64url')}`,
      `?cursor=${Buffer.from('[1700000000000,7]').toString('base64url')}`,
      '?status=done',
      '?limit=0',
      '?limit=201',
      '?limit=ten',
      '?userId=a%20b',
      '?sort=createdAt',
      '?status=pending&status=failed',
    ];
    for (const query of bad) {
      const res = await list(query);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expectError(res, 400, 'validation_failed');
    }
    const error = expectError(await list('?cursor=not-a-cursor'), 400, 'validation_failed');
    expect(error.details).toEqual([expect.objectContaining({ path: ['query', 'cursor'] })]);
  });
});
