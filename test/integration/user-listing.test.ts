import { createApiKey } from '../../src/auth/api-key-repository';
import type { User } from '../../src/models/user.model';
import { listUsers } from '../../src/users/list-users';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import {
  expectError,
  issuePaths,
  jsonClient,
  listen,
  type JsonClient,
} from '../support/bulk-fixtures';
import { daysAgo, insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';

// GET /v1/orgs/:orgId/users (activity in docs/rules.md, the route in docs/api.md): the activity
// listing, by last login (never logged in first), cursor-paged, with emails only for admin keys.

const dayMs = 24 * 60 * 60 * 1000;
const minuteMs = 60 * 1000;

let h: ApiHarness;
let stopServer: () => Promise<void>;
let client: JsonClient;
let readKey: string;
let adminKey: string;

let orgId: string;
/** Every user of the organization, in the order the listing must give them. */
let expectedOrder: User[];
let byName: Record<string, User>;

beforeAll(async () => {
  h = await openApiHarness('userlist');
  const listening = await listen(h);
  stopServer = listening.close;
  client = jsonClient(listening.server, () => readKey);
  readKey = (await createApiKey(h.models, { name: 'reader', scopes: ['read'], orgIds: ['*'] })).key;
  adminKey = (
    await createApiKey(h.models, { name: 'admin', scopes: ['read', 'admin'], orgIds: ['*'] })
  ).key;

  const org = orgFixture();
  orgId = org._id;
  const now = Date.now();
  const tie = new Date(now - 45 * dayMs);
  // _ids chosen so that ties on lastLoginAt order by _id.
  const named: Record<string, Partial<User>> = {
    never_b: { _id: `${orgId}-b-never`, lastLoginAt: null },
    never_a: { _id: `${orgId}-a-never`, lastLoginAt: null, kind: 'customer' },
    old: { lastLoginAt: new Date(now - 400 * dayMs), role: 'admin' },
    tie_2: { _id: `${orgId}-tie-2`, lastLoginAt: tie },
    tie_1: { _id: `${orgId}-tie-1`, lastLoginAt: tie, status: 'inactive' },
    // Either side of the 30-day threshold by a minute.
    justInactive: { lastLoginAt: new Date(now - 30 * dayMs - minuteMs), role: 'manager' },
    justActive: { lastLoginAt: new Date(now - 30 * dayMs + 5 * minuteMs) },
    recent: { lastLoginAt: new Date(now - 2 * dayMs), kind: 'customer' },
    today: { lastLoginAt: new Date(now - minuteMs) },
  };
  byName = Object.fromEntries(
    Object.entries(named).map(([name, overrides]) => [name, userFixture(orgId, overrides)]),
  );
  const other = orgFixture();
  await insertFixtures(h.models, {
    organizations: [org, other],
    users: [
      ...Object.values(byName),
      // Another organization's users never show.
      userFixture(other._id, { lastLoginAt: null }),
      userFixture(other._id, { lastLoginAt: daysAgo(500) }),
    ],
  });
  expectedOrder = [
    'never_a',
    'never_b',
    'old',
    'tie_1',
    'tie_2',
    'justInactive',
    'justActive',
    'recent',
    'today',
  ].map((name) => byName[name]!);
});

afterAll(async () => {
  await stopServer();
  await h.close();
});

const usersPath = (org: string, query = ''): string => `/v1/orgs/${org}/users${query}`;

interface Item {
  id: string;
  kind: string;
  role: string;
  status: string;
  lastLoginAt: string | null;
  activity: string;
  email?: string | null;
}

/** Follows nextCursor until the end; returns every page's ids. */
async function allPages(query: string, key?: string): Promise<Item[][]> {
  const pages: Item[][] = [];
  let cursor: string | null = null;
  do {
    const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const res = await client.get(usersPath(orgId, `?${query}${suffix}`), key);
    expect(res.status).toBe(200);
    pages.push(res.body.items as Item[]);
    cursor = res.body.nextCursor as string | null;
    expect(pages.length).toBeLessThan(50);
  } while (cursor !== null);
  return pages;
}

describe('activity listing', () => {
  it('lists never-logged-in users first, then by oldest login, ties by id, with each one’s activity', async () => {
    const res = await client.get(usersPath(orgId, '?sort=lastLoginAt&inactiveDays=30'));
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    const items = res.body.items as Item[];
    expect(items.map((item) => item.id)).toEqual(expectedOrder.map((user) => user._id));
    expect(items.map((item) => item.activity)).toEqual([
      'never_logged_in',
      'never_logged_in',
      'inactive',
      'inactive',
      'inactive',
      'inactive',
      'active',
      'active',
      'active',
    ]);
    const old = items[2]!;
    expect(old).toEqual({
      id: byName.old!._id,
      kind: 'employee',
      role: 'admin',
      status: 'active',
      lastLoginAt: byName.old!.lastLoginAt!.toISOString(),
      activity: 'inactive',
    });
    expect(items[0]).toMatchObject({ kind: 'customer', lastLoginAt: null });
    expect(items[3]).toMatchObject({ id: byName.tie_1!._id, status: 'inactive' });
  });

  it('filters by activity, exactly either side of the threshold', async () => {
    const ids = async (query: string): Promise<string[]> => {
      const res = await client.get(usersPath(orgId, query));
      expect(res.status).toBe(200);
      for (const item of res.body.items as Item[]) {
        expect(item.activity).toBe(/activity=(\w+)/.exec(query)?.[1]);
      }
      return (res.body.items as Item[]).map((item) => item.id);
    };
    const id = (name: string): string => byName[name]!._id;
    expect(await ids('?activity=never_logged_in&inactiveDays=30')).toEqual([
      id('never_a'),
      id('never_b'),
    ]);
    expect(await ids('?activity=inactive&inactiveDays=30')).toEqual([
      id('old'),
      id('tie_1'),
      id('tie_2'),
      id('justInactive'),
    ]);
    expect(await ids('?activity=active&inactiveDays=30')).toEqual([
      id('justActive'),
      id('recent'),
      id('today'),
    ]);
    // Another threshold moves the line: 45 days leaves the ties (exactly 45 days ago, a little
    // less by now) on the active side.
    expect(await ids('?activity=inactive&inactiveDays=46')).toEqual([id('old')]);
    expect(await ids('?activity=active&inactiveDays=1')).toEqual([id('today')]);
  });

  it('is exact at the threshold: a login exactly inactiveDays ago is active, a millisecond older is inactive', async () => {
    const org = orgFixture();
    const now = new Date('2025-06-01T12:00:00.000Z');
    const cutoff = new Date(now.getTime() - 30 * dayMs);
    const atCutoff = userFixture(org._id, { lastLoginAt: cutoff });
    const justOlder = userFixture(org._id, { lastLoginAt: new Date(cutoff.getTime() - 1) });
    const justNewer = userFixture(org._id, { lastLoginAt: new Date(cutoff.getTime() + 1) });
    await insertFixtures(h.models, {
      organizations: [org],
      users: [atCutoff, justOlder, justNewer],
    });
    const query = { orgId: org._id, inactiveDays: 30, limit: 50, includeEmail: false };
    const inactive = await listUsers(h.models, { ...query, activity: 'inactive' }, now);
    const active = await listUsers(h.models, { ...query, activity: 'active' }, now);
    expect(inactive.items.map((item) => [item.id, item.activity])).toEqual([
      [justOlder._id, 'inactive'],
    ]);
    expect(active.items.map((item) => [item.id, item.activity])).toEqual([
      [atCutoff._id, 'active'],
      [justNewer._id, 'active'],
    ]);
    const all = await listUsers(h.models, query, now);
    expect(all.items.map((item) => item.activity)).toEqual(['inactive', 'active', 'active']);
  });

  it.each([1, 2, 3, 4])(
    'pages with limit=%i: no overlap, no gap, same order as one page',
    async (limit) => {
      const pages = await allPages(`inactiveDays=30&limit=${limit}`);
      expect(pages.length).toBe(Math.ceil(expectedOrder.length / limit));
      for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
      const ids = pages.flat().map((item) => item.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expectedOrder.map((user) => user._id));
    },
  );

  it('pages a filtered listing across ties without overlap', async () => {
    const pages = await allPages('activity=inactive&inactiveDays=30&limit=2');
    expect(pages.map((page) => page.map((item) => item.id))).toEqual([
      [byName.old!._id, byName.tie_1!._id],
      [byName.tie_2!._id, byName.justInactive!._id],
    ]);
    const never = await allPages('activity=never_logged_in&limit=1');
    expect(never.map((page) => page.map((item) => item.id))).toEqual([
      [byName.never_a!._id],
      [byName.never_b!._id],
    ]);
  });

  it('shows no email to a read key, and the stored email to an admin key', async () => {
    const read = await client.get(usersPath(orgId, '?limit=200'));
    expect(read.status).toBe(200);
    for (const item of read.body.items as Item[]) {
      expect(Object.keys(item).sort()).toEqual(
        ['activity', 'id', 'kind', 'lastLoginAt', 'role', 'status'].sort(),
      );
    }
    expect(JSON.stringify(read.body)).not.toContain('@example.test');

    const admin = await client.get(usersPath(orgId, '?limit=200'), adminKey);
    expect(admin.status).toBe(200);
    const emails = new Map((admin.body.items as Item[]).map((item) => [item.id, item.email]));
    expect(emails.size).toBe(expectedOrder.length);
    for (const user of expectedOrder) expect(emails.get(user._id)).toBe(user.email);
  });

  it('answers 404 for an unknown organization', async () => {
    expectError(await client.get(usersPath('org_missing_entirely')), 404, 'not_found');
  });

  it.each(['abc', '0', '-3', '1.5', '99999'])('refuses inactiveDays=%s with 400', async (value) => {
    const res = await client.get(usersPath(orgId, `?activity=inactive&inactiveDays=${value}`));
    expectError(res, 400, 'validation_failed');
    expect(issuePaths(res)).toContain('query.inactiveDays');
  });

  it('refuses an unknown activity, sort, limit or cursor with 400', async () => {
    const cases: [string, string][] = [
      ['?activity=sleepy', 'query.activity'],
      ['?sort=email', 'query.sort'],
      ['?limit=0', 'query.limit'],
      ['?cursor=not-a-cursor', 'query.cursor'],
      // Tampered with: the right shape, values of the wrong type or out of range (was a 500).
      [`?cursor=${Buffer.from('[1e300,"usr_x"]').toString('base64url')}`, 'query.cursor'],
      [`?cursor=${Buffer.from('["yesterday","usr_x"]').toString('base64url')}`, 'query.cursor'],
      [`?cursor=${Buffer.from('[1700000000000,7]').toString('base64url')}`, 'query.cursor'],
    ];
    for (const [query, path] of cases) {
      const res = await client.get(usersPath(orgId, query));
      expectError(res, 400, 'validation_failed');
      expect(issuePaths(res)).toContain(path);
    }
  });

  it('needs the read scope', async () => {
    const writeOnly = (
      await createApiKey(h.models, { name: 'writer', scopes: ['write'], orgIds: ['*'] })
    ).key;
    expectError(await client.get(usersPath(orgId), writeOnly), 403, 'forbidden');
  });
});
