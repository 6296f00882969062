import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import request, { type Response } from 'supertest';
import { createMetricsApp } from '../../src/api/admin/metrics-app';
import { createApp } from '../../src/api/app';
import { createApiKey } from '../../src/auth/api-key-repository';
import { createLogger } from '../../src/logging/logger';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { launchChromium } from '../support/browser';
import { expectError, listen } from '../support/bulk-fixtures';
import { insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';
import { keysUnder } from '../../test-kit/redis-keys';
import { openTestRedis } from '../support/test-env';

// What the HTTP layer enforces against abuse (README, Security): headers on every response,
// throttled failed authentication shared through Redis, and the cap of pending bulks.

const operator = { username: 'ops', password: 'correct horse battery' };
const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

const limit = 3;
const windowSeconds = 60;
const maxPendingBulks = 2;

let h: ApiHarness;
let stopServer: () => Promise<void>;
let server: Server;
let goodKey: string;
let orgId: string;
let actorId: string;

beforeAll(async () => {
  h = await openApiHarness('security', {
    DASHBOARD_USERNAME: operator.username,
    DASHBOARD_PASSWORD: operator.password,
    AUTH_FAILURE_LIMIT: String(limit),
    AUTH_FAILURE_WINDOW_SECONDS: String(windowSeconds),
    MAX_PENDING_BULKS_PER_ORG: String(maxPendingBulks),
    // Each test below poses as its own client with X-Forwarded-For, as behind one proxy hop.
    TRUST_PROXY: '1',
  });
  const listening = await listen(h);
  server = listening.server;
  stopServer = listening.close;
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  await insertFixtures(h.models, { organizations: [org], users: [actor] });
  orgId = org._id;
  actorId = actor._id;
  goodKey = (
    await createApiKey(h.models, { name: 'w', scopes: ['read', 'write'], orgIds: [orgId] })
  ).key;
});

afterAll(async () => {
  await stopServer();
  await h.close();
});

/** A second API process of the same deployment: its own app, the same Redis and prefix. */
function secondProcess(): ReturnType<typeof createApp> {
  return createApp({
    mongo: h.store.mongo,
    models: h.models,
    redis: h.redis,
    logger: createLogger({ logLevel: 'silent' }),
    metrics: h.metrics,
    dashboard: h.config.dashboard,
    security: h.config.security,
    queuePrefix: h.config.queuePrefix,
    ...h.producers,
  });
}

function expectSecurityHeaders(res: Response, what: string): void {
  const headers = res.headers as Record<string, string | undefined>;
  expect([what, headers['x-powered-by']]).toEqual([what, undefined]);
  expect([what, headers['x-frame-options']]).toEqual([what, 'DENY']);
  expect([what, headers['content-security-policy']]).toEqual([
    what,
    expect.stringContaining("frame-ancestors 'none'") as unknown,
  ]);
  expect([what, headers['x-content-type-options']]).toEqual([what, 'nosniff']);
  expect([what, headers['referrer-policy']]).toEqual([what, 'no-referrer']);
}

describe('security headers', () => {
  it('are sent on every surface, errors and the dashboard assets included, without X-Powered-By', async () => {
    const page = await request(h.app)
      .get('/admin/queues')
      .set('Authorization', basic(operator.username, operator.password));
    expect(page.status).toBe(200);
    const script = /src="(static\/js\/main\.[^"]+\.js)"/.exec(page.text)?.[1];
    expect(script).toBeDefined();
    const metricsApp = createMetricsApp({
      dashboard: h.config.dashboard,
      models: h.models,
      metrics: h.metrics,
      redis: h.redis,
      security: h.config.security,
      queuePrefix: h.config.queuePrefix,
    });
    const responses: [string, Response][] = [
      ['dashboard page', page],
      [
        'dashboard script',
        await request(h.app)
          .get(`/admin/queues/${script ?? ''}`)
          .set('Authorization', basic(operator.username, operator.password)),
      ],
      [
        'dashboard api',
        await request(h.app)
          .get('/admin/queues/api/queues')
          .set('Authorization', basic(operator.username, operator.password)),
      ],
      ['dashboard 401', await request(h.app).get('/admin/queues')],
      [
        'v1 200',
        await request(h.app)
          .get(`/v1/orgs/${orgId}/users`)
          .set('Authorization', `Bearer ${goodKey}`),
      ],
      ['v1 401', await request(h.app).get(`/v1/orgs/${orgId}/users`)],
      ['404', await request(h.app).get('/nowhere')],
      ['healthz', await request(h.app).get('/healthz')],
      ['openapi', await request(h.app).get('/openapi.json')],
      ['worker metrics app', await request(metricsApp).get('/healthz')],
    ];
    expect(responses[1]?.[1].status).toBe(200);
    for (const [what, res] of responses) expectSecurityHeaders(res, what);
  });

  describe('in headless Chromium', () => {
    let browser: Browser;
    const base = (): string => {
      const address = server.address();
      return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    };

    beforeAll(async () => {
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser.close();
    });

    it('loads the dashboard under the CSP without violations, and refuses to be framed', async () => {
      const context = await browser.newContext({
        httpCredentials: { username: operator.username, password: operator.password },
        extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.90' },
      });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      try {
        await page.goto(`${base()}/admin/queues`);
        await page.getByRole('link', { name: 'deactivation-steps' }).first().waitFor();
        expect(violations).toEqual([]);

        // A page of another origin (another port) framing one of our pages gets Chromium's
        // error page in its frame. (/healthz needs no sign-in, which a cross-origin frame could
        // not answer here; the dashboard sends the same headers, checked above.)
        const framer = createServer((_req, res) => {
          res.setHeader('Content-Type', 'text/html');
          res.end(`<iframe src="${base()}/healthz"></iframe>`);
        });
        await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
        try {
          const address = framer.address();
          const framerPort = typeof address === 'object' && address ? address.port : 0;
          const framed = await context.newPage();
          await framed.goto(`http://127.0.0.1:${framerPort}/`);
          await framed.waitForTimeout(1_000);
          const frame = framed.frames().find((candidate) => candidate !== framed.mainFrame());
          expect(frame?.url()).toBe('chrome-error://chromewebdata/');
        } finally {
          await new Promise((resolve) => framer.close(resolve));
        }
      } finally {
        await context.close();
      }
    });
  });
});

describe('throttling failed authentication', () => {
  it('answers 429 with Retry-After once an address used up its failures, even with a good key', async () => {
    const from = '203.0.113.10';
    for (let attempt = 0; attempt < limit; attempt += 1) {
      const res = await request(h.app)
        .get(`/v1/orgs/${orgId}/users`)
        .set('X-Forwarded-For', from)
        .set('Authorization', 'Bearer wrong-key');
      expectError(res, 401, 'unauthorized');
    }
    const blocked = await request(h.app)
      .get(`/v1/orgs/${orgId}/users`)
      .set('X-Forwarded-For', from)
      .set('Authorization', `Bearer ${goodKey}`);
    expectError(blocked, 429, 'too_many_requests');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
    expect((blocked.body as { error: { details: unknown } }).error.details).toEqual({
      retryAfterSeconds: retryAfter,
    });

    // Another address is not affected, and a request without credentials is no guess.
    const other = await request(h.app)
      .get(`/v1/orgs/${orgId}/users`)
      .set('X-Forwarded-For', '203.0.113.11')
      .set('Authorization', `Bearer ${goodKey}`);
    expect(other.status).toBe(200);
    for (let attempt = 0; attempt < limit + 2; attempt += 1) {
      const anonymous = await request(h.app)
        .get(`/v1/orgs/${orgId}/users`)
        .set('X-Forwarded-For', '203.0.113.12');
      expectError(anonymous, 401, 'unauthorized');
    }
    // Unauthenticated routes stay open to a blocked address.
    expect((await request(h.app).get('/healthz').set('X-Forwarded-For', from)).status).toBe(200);
  });

  it('counts wrong Basic passwords on the dashboard and metrics, shared by every API process', async () => {
    const from = '203.0.113.20';
    const other = secondProcess();
    // Failures spread over two processes and both operator surfaces add up.
    const wrong = basic(operator.username, 'not the password');
    const attempts = [
      request(h.app).get('/admin/queues'),
      request(other).get('/metrics'),
      request(other).get('/admin/queues/api/queues'),
    ];
    for (const attempt of attempts.slice(0, limit)) {
      const res = await attempt.set('X-Forwarded-For', from).set('Authorization', wrong);
      expect(res.status).toBe(401);
    }
    for (const app of [h.app, other]) {
      const res = await request(app)
        .get('/metrics')
        .set('X-Forwarded-For', from)
        .set('Authorization', basic(operator.username, operator.password));
      expectError(res, 429, 'too_many_requests');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    // The count lives in Redis, under the deployment's queue prefix.
    const redis = openTestRedis();
    try {
      const keys = (await keysUnder(redis, h.config.queuePrefix)).filter((key) =>
        key.startsWith(`${h.config.queuePrefix}:auth-failures:`),
      );
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      await redis.quit();
    }
  });

  it('does not count a key that is valid but lacks the scope or the organization', async () => {
    const from = '203.0.113.30';
    for (let attempt = 0; attempt < limit + 2; attempt += 1) {
      const res = await request(h.app)
        .get('/v1/orgs/org_someone_else/users')
        .set('X-Forwarded-For', from)
        .set('Authorization', `Bearer ${goodKey}`);
      expectError(res, 403, 'forbidden');
    }
  });
});

describe('the cap of pending bulk deactivations', () => {
  it('answers 429 beyond the cap per organization, also under concurrent requests', async () => {
    // No workers run here: accepted bulks stay pending.
    const post = (org: string, actor: string) =>
      request(h.app)
        .post(`/v1/orgs/${org}/bulk-deactivations`)
        .set('Authorization', `Bearer ${goodKey}`)
        .send({ actorId: actor, userIds: ['usr_a', 'usr_b'] });
    const answers = await Promise.all(
      Array.from({ length: maxPendingBulks + 3 }, () => post(orgId, actorId)),
    );
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses).toEqual([
      ...Array<number>(maxPendingBulks).fill(202),
      ...Array<number>(3).fill(429),
    ]);
    const refused = answers.find((res) => res.status === 429)!;
    expectError(refused, 429, 'too_many_requests');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((refused.body as { error: { details: unknown } }).error.details).toMatchObject({
      pending: maxPendingBulks,
      limit: maxPendingBulks,
    });
    expect(await h.models.bulkDeactivations.countDocuments({ orgId })).toBe(maxPendingBulks);

    // A finished bulk frees its place.
    await h.models.bulkDeactivations.updateOne(
      { orgId, status: 'pending' },
      { $set: { status: 'completed' } },
    );
    expect((await post(orgId, actorId)).status).toBe(202);
    expect((await post(orgId, actorId)).status).toBe(429);
  });
});
