import type { Server } from 'node:http';
import request, { type Response } from 'supertest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-key-repository';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { expectError, listen } from '../support/bulk-fixtures';
import { daysAgo, insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';
import { keysUnder } from '../../test-kit/redis-keys';
import { openTestRedis } from '../support/test-env';

// The admin console's server side (README, Admin console): sign-in with an admin key through the
// failed-auth throttle, a server-side session behind an HttpOnly SameSite=Strict cookie, CSRF
// checks on every change, sign-out, and a proxy to /v1 that never shows the key to the browser.

const operator = { username: 'ops', password: 'correct horse battery' };
const limit = 3;

let h: ApiHarness;
let server: Server;
let stopServer: () => Promise<void>;
let orgId: string;
let otherOrgId: string;
let actorId: string;
let memberId: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  h = await openApiHarness('console', {
    DASHBOARD_USERNAME: operator.username,
    DASHBOARD_PASSWORD: operator.password,
    AUTH_FAILURE_LIMIT: String(limit),
    TRUST_PROXY: '1',
    CONSOLE_SESSION_IDLE_MINUTES: '30',
    CONSOLE_SESSION_MAX_HOURS: '2',
  });
  const listening = await listen(h);
  server = listening.server;
  stopServer = listening.close;
  const org = orgFixture({ name: 'Acme' });
  const other = orgFixture({ name: 'Globex' });
  const actor = userFixture(org._id, { role: 'admin' });
  const member = userFixture(org._id, { lastLoginAt: daysAgo(200) });
  await insertFixtures(h.models, {
    organizations: [org, other],
    users: [actor, member, userFixture(other._id, { role: 'admin' })],
  });
  orgId = org._id;
  otherOrgId = other._id;
  actorId = actor._id;
  memberId = member._id;
  const create = async (name: string, scopes: string[], orgIds: string[], actor?: string) =>
    (await createApiKey(h.models, { name, scopes, orgIds, actorId: actor ?? null })).key;
  keys.admin = await create('console', ['*'], [orgId], actorId);
  keys.unbound = await create('service', ['*'], [orgId, otherOrgId]);
  keys.noAdmin = await create('writer', ['read', 'write'], [orgId]);
  keys.revocable = await create('revocable', ['*'], [orgId], actorId);
});

afterAll(async () => {
  await stopServer();
  await h.close();
});

let clientCounter = 0;
/** Each test poses as its own client address, so the throttle's counts do not mix. */
function client(): string {
  clientCounter += 1;
  return `198.51.100.${clientCounter}`;
}

interface SignedIn {
  cookie: string;
  csrf: string;
  body: Record<string, unknown>;
  res: Response;
}

async function signIn(key: string, ip = client()): Promise<SignedIn> {
  const res = await request(server)
    .post('/admin/session')
    .set('X-Forwarded-For', ip)
    .set('Sec-Fetch-Site', 'same-origin')
    .set('Authorization', `Bearer ${key}`);
  expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
  const setCookie = (res.headers['set-cookie'] as unknown as string[])[0]!;
  return {
    cookie: setCookie.split(';')[0]!,
    csrf: (res.body as { csrfToken: string }).csrfToken,
    body: res.body as Record<string, unknown>,
    res,
  };
}

function everythingSent(res: Response): string {
  return JSON.stringify(res.headers) + res.text;
}

describe('sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict, expiring cookie scoped to /admin, and never returns the key', async () => {
    const session = await signIn(keys.admin!);
    const setCookie = (session.res.headers['set-cookie'] as unknown as string[])[0]!;
    expect(setCookie).toMatch(/^offboard_console=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('; HttpOnly');
    expect(setCookie).toContain('; SameSite=Strict');
    expect(setCookie).toContain('; Path=/admin');
    expect(setCookie).toContain(`; Max-Age=${2 * 3600}`);
    expect(setCookie).not.toContain('Secure');
    expect(session.body).toMatchObject({ orgId, actorId, actorBound: true, orgName: 'Acme' });
    expect(everythingSent(session.res)).not.toContain(keys.admin);
  });

  it('marks the cookie Secure when the request came over https', async () => {
    const res = await request(server)
      .post('/admin/session')
      .set('X-Forwarded-For', client())
      .set('X-Forwarded-Proto', 'https')
      .set('Sec-Fetch-Site', 'same-origin')
      .set('Authorization', `Bearer ${keys.admin}`);
    expect(res.status).toBe(201);
    expect((res.headers['set-cookie'] as unknown as string[])[0]).toContain('; Secure');
  });

  it('keeps the key only sealed in Redis, with the idle timeout as its lifetime', async () => {
    const session = await signIn(keys.admin!);
    const redis = openTestRedis();
    try {
      const found = (await keysUnder(redis, h.config.queuePrefix)).filter((key) =>
        key.startsWith(`${h.config.queuePrefix}:console-session:`),
      );
      expect(found.length).toBeGreaterThan(0);
      for (const key of found) {
        const stored = (await redis.get(key)) ?? '';
        expect(stored).not.toContain(keys.admin);
        expect(key).not.toContain(session.cookie.split('=')[1]);
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(30 * 60 * 1000);
      }
    } finally {
      await redis.quit();
    }
  });

  it('refuses a key without the admin scope, and a sign-in from another site', async () => {
    const ip = client();
    const res = await request(server)
      .post('/admin/session')
      .set('X-Forwarded-For', ip)
      .set('Sec-Fetch-Site', 'same-origin')
      .set('Authorization', `Bearer ${keys.noAdmin}`);
    expectError(res, 403, 'forbidden');
    expect(res.headers['set-cookie']).toBeUndefined();
    const crossSite = await request(server)
      .post('/admin/session')
      .set('X-Forwarded-For', ip)
      .set('Sec-Fetch-Site', 'cross-site')
      .set('Authorization', `Bearer ${keys.admin}`);
    expectError(crossSite, 403, 'forbidden');
    expect(crossSite.headers['set-cookie']).toBeUndefined();
  });

  it('counts wrong keys towards the failed-auth throttle', async () => {
    const ip = client();
    const attempt = () =>
      request(server)
        .post('/admin/session')
        .set('X-Forwarded-For', ip)
        .set('Sec-Fetch-Site', 'same-origin')
        .set('Authorization', 'Bearer ofb_wrong_key_guess');
    for (let i = 0; i < limit; i += 1) expectError(await attempt(), 401, 'unauthorized');
    expectError(await attempt(), 429, 'too_many_requests');
    // Even the right key waits now: the address used up its guesses.
    const right = await request(server)
      .post('/admin/session')
      .set('X-Forwarded-For', ip)
      .set('Sec-Fetch-Site', 'same-origin')
      .set('Authorization', `Bearer ${keys.admin}`);
    expectError(right, 429, 'too_many_requests');
  });

  it('lets a key bound to several organizations pick one, then an acting admin', async () => {
    const session = await signIn(keys.unbound!);
    expect(session.body).toMatchObject({ orgId: null, actorId: null, actorBound: false });
    expect((session.body.organizations as { id: string }[]).map((org) => org.id).sort()).toEqual(
      [orgId, otherOrgId].sort(),
    );
    const page = await request(server).get('/admin/users').set('Cookie', session.cookie);
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/admin/choose');
    const choose = (body: unknown) =>
      request(server)
        .put('/admin/session')
        .set('Cookie', session.cookie)
        .set('Sec-Fetch-Site', 'same-origin')
        .set('X-CSRF-Token', session.csrf)
        .send(body as object);
    expectError(await choose({ orgId: 'org_elsewhere' }), 403, 'forbidden');
    expect((await choose({ orgId })).body).toMatchObject({ orgId, actorId: null });
    expectError(await choose({ actorId: memberId }), 400, 'validation_failed');
    expect((await choose({ actorId })).body).toMatchObject({ orgId, actorId });
    const ready = await request(server).get('/admin/users').set('Cookie', session.cookie);
    expect(ready.status).toBe(200);
  });
});

describe('pages and proxy', () => {
  it('sends pages without a session to the sign-in page, with the service security headers', async () => {
    const res = await request(server).get('/admin/users');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/sign-in');
    const signInPage = await request(server).get('/admin/sign-in');
    expect(signInPage.status).toBe(200);
    expect(signInPage.text).toContain('<label for="api-key">API key</label>');
    expect(signInPage.headers['x-frame-options']).toBe('DENY');
    expect(signInPage.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(signInPage.headers['content-security-policy']).toContain("script-src 'self'");
    const script = await request(server).get('/admin/assets/console.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toContain('javascript');
  });

  it('forwards to /v1 of the session organization with the key attached server-side', async () => {
    const session = await signIn(keys.admin!);
    const res = await request(server)
      .get('/admin/api/users?activity=inactive')
      .set('Cookie', session.cookie);
    expect(res.status).toBe(200);
    expect((res.body as { items: { id: string }[] }).items.map((user) => user.id)).toEqual([
      memberId,
    ]);
    expect(everythingSent(res)).not.toContain(keys.admin);
    const traversal = await request(server)
      .get(`/admin/api/../../v1/orgs/${otherOrgId}/users`)
      .set('Cookie', session.cookie);
    expect(traversal.status).not.toBe(200);
    const unauthenticated = await request(server).get('/admin/api/users');
    expectError(unauthenticated, 401, 'unauthorized');
  });

  it('refuses state changes without the CSRF token or from another site', async () => {
    const session = await signIn(keys.admin!);
    const body = { userId: memberId, actorId };
    const noToken = await request(server)
      .post('/admin/api/deactivations?dryRun=true')
      .set('Cookie', session.cookie)
      .set('Sec-Fetch-Site', 'same-origin')
      .send(body);
    expectError(noToken, 403, 'forbidden');
    const crossSite = await request(server)
      .post('/admin/api/deactivations?dryRun=true')
      .set('Cookie', session.cookie)
      .set('Sec-Fetch-Site', 'cross-site')
      .set('X-CSRF-Token', session.csrf)
      .send(body);
    expectError(crossSite, 403, 'forbidden');
    const wrongOrigin = await request(server)
      .post('/admin/api/deactivations?dryRun=true')
      .set('Cookie', session.cookie)
      .set('Origin', 'https://evil.example')
      .set('X-CSRF-Token', session.csrf)
      .send(body);
    expectError(wrongOrigin, 403, 'forbidden');
    const ok = await request(server)
      .post('/admin/api/deactivations?dryRun=true')
      .set('Cookie', session.cookie)
      .set('Sec-Fetch-Site', 'same-origin')
      .set('X-CSRF-Token', session.csrf)
      .send(body);
    expect({ status: ok.status, body: ok.body as unknown }).toMatchObject({
      status: 200,
      body: { dryRun: true, userId: memberId },
    });
    expect((await h.models.users.findById(memberId).lean())?.status).toBe('active');
  });

  it('signs out: the session is gone and the cookie cleared', async () => {
    const session = await signIn(keys.admin!);
    const withoutToken = await request(server)
      .delete('/admin/session')
      .set('Cookie', session.cookie)
      .set('Sec-Fetch-Site', 'same-origin');
    expectError(withoutToken, 403, 'forbidden');
    const out = await request(server)
      .delete('/admin/session')
      .set('Cookie', session.cookie)
      .set('Sec-Fetch-Site', 'same-origin')
      .set('X-CSRF-Token', session.csrf);
    expect(out.status).toBe(204);
    expect((out.headers['set-cookie'] as unknown as string[])[0]).toContain('Max-Age=0');
    expectError(
      await request(server).get('/admin/session').set('Cookie', session.cookie),
      401,
      'unauthorized',
    );
    expectError(
      await request(server).get('/admin/api/users').set('Cookie', session.cookie),
      401,
      'unauthorized',
    );
  });

  it('ends the session when its key is revoked', async () => {
    const session = await signIn(keys.revocable!);
    const record = await h.models.apiKeys.findOne({ name: 'revocable' }).lean();
    expect(await revokeApiKey(h.models, record!._id)).toBe(true);
    expectError(
      await request(server).get('/admin/api/users').set('Cookie', session.cookie),
      401,
      'unauthorized',
    );
    expectError(
      await request(server).get('/admin/session').set('Cookie', session.cookie),
      401,
      'unauthorized',
    );
  });

  it('leaves the queue dashboard at /admin/queues working', async () => {
    const res = await request(server)
      .get('/admin/queues')
      .set(
        'Authorization',
        `Basic ${Buffer.from(`${operator.username}:${operator.password}`).toString('base64')}`,
      );
    expect(res.status).toBe(200);
    expect(res.text).toContain('offboard queues');
  });
});
