import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from 'mongoose';
import type { Browser } from 'playwright-core';
import { createApiKey } from '../../src/auth/api-key-repository';
import { connectMongo } from '../../src/infra/mongo-connection';
import { createModels, ensureIndexes, type Models } from '../../src/models/create-models';
import { queueNames } from '../../src/queues/queue-names';
import {
  deactivationApi,
  expectEffectsExactlyOnce,
  seedDepartingUser,
  seedE2eOrg,
  type DeactivationApi,
  type E2eOrg,
} from '../support/e2e-fixtures';
import { launchChromium } from '../support/browser';
import { freePort } from '../../test-kit/free-port';
import {
  eventually,
  startServiceProcess,
  type ServiceProcess,
} from '../../test-kit/service-process';
import { deletePrefix } from '../../test-kit/redis-keys';
import { mongoUrl, openTestRedis, redisUrl, uniqueName, uniquePrefix } from '../support/test-env';

// The operator's view of the real process (`npm start`): its log stream, and the queue
// dashboard driven in headless Chromium.

const artifacts = path.join(__dirname, '../../test-artifacts');
const operator = { username: 'ops', password: 'correct horse battery' };
const dbName = uniqueName('e2eops');
const queuePrefix = uniquePrefix('q');

let mongo: Connection;
let models: Models;
let org: E2eOrg;
let apiKey: string;
let service: ServiceProcess;
let client: DeactivationApi;

beforeAll(async () => {
  mongo = await connectMongo(mongoUrl, { dbName });
  models = createModels(mongo);
  await ensureIndexes(models);
  org = await seedE2eOrg(models);
  apiKey = (await createApiKey(models, { name: 'ops', scopes: ['*'], orgIds: [org.orgId] })).key;
  const store = new URL(mongoUrl);
  store.pathname = `/${dbName}`;
  service = await startServiceProcess(
    'main',
    {
      MONGO_URL: store.toString(),
      QUEUE_PREFIX: queuePrefix,
      LOG_LEVEL: 'info',
      DASHBOARD_USERNAME: operator.username,
      DASHBOARD_PASSWORD: operator.password,
      REDIS_URL: redisUrl,
    },
    await freePort(),
  );
  client = deactivationApi(service.baseUrl, apiKey, org.orgId);
});

afterAll(async () => {
  await service.stop('SIGTERM');
  const redis = openTestRedis();
  await deletePrefix(redis, queuePrefix);
  redis.disconnect();
  await mongo.dropDatabase();
  await mongo.close();
});

interface LogLine {
  msg: string;
  runId?: string;
  requestId?: string;
  step?: string;
  req?: { id?: string; method?: string; url?: string };
  res?: { statusCode?: number };
}

function logLines(): LogLine[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

async function waitForStatus(runId: string, status: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => (await client.getRun(runId)).body?.status === status,
    timeoutMs,
    `run ${runId} to be ${status}`,
  );
}

it('logs one line per request and per step, tied by request id and run id, with no personal data', async () => {
  const user = await seedDepartingUser(models, org, {
    tokens: 3,
    subscriptions: 2,
    opportunities: 3,
  });
  const stored = await models.users.findById(user.userId).lean();
  const requestId = `req-follow-${Date.now()}`;
  const response = await fetch(`${service.baseUrl}/v1/orgs/${org.orgId}/deactivations`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'Content-Type': 'application/json',
      'X-Request-Id': requestId,
    },
    body: JSON.stringify({ userId: user.userId, actorId: org.actorId }),
  });
  expect(response.status).toBe(202);
  expect(response.headers.get('x-request-id')).toBe(requestId);
  const runId = ((await response.json()) as { id: string }).id;
  await waitForStatus(runId, 'completed');
  await expectEffectsExactlyOnce(models, org, user, runId);
  await eventually(
    async () =>
      Promise.resolve(
        logLines().some((line) => line.msg === 'run completed' && line.runId === runId),
      ),
    5_000,
    'the run completion log line',
  );

  const lines = logLines();
  const requestLine = lines.filter((line) => line.req?.id === requestId);
  expect(requestLine).toHaveLength(1);
  expect(requestLine[0]).toMatchObject({
    msg: 'request completed',
    runId,
    req: { method: 'POST' },
    res: { statusCode: 202 },
  });
  const stepLines = lines.filter(
    (line) => line.msg.startsWith('step completed') && line.runId === runId,
  );
  expect(stepLines.map((line) => [line.step, line.requestId])).toEqual([
    ['revoke-tokens', requestId],
    ['cancel-subscriptions', requestId],
    ['transfer-opportunities', requestId],
    ['remove-from-teams', requestId],
    ['blocklist-email', requestId],
  ]);
  expect(lines.find((line) => line.msg === 'run completed' && line.runId === runId)).toMatchObject({
    requestId,
  });

  const output = service.output();
  for (const secret of [
    user.email,
    stored?.firstName,
    stored?.lastName,
    apiKey,
    apiKey.slice(-16),
    operator.password,
  ]) {
    expect(secret && output.includes(secret) ? secret : null).toBeNull();
  }
  expect(output).not.toMatch(/[\w.+-]+@[\w-]+\.[\w.]+/);
  // The shared Redis runs with noeviction: no start-up warning.
  expect(output).not.toContain('REDIS IS MISCONFIGURED');
});

describe('the queue dashboard in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser.close();
  });

  it('lets an operator find a step that failed on broken data, fix it, retry, and see the run complete', async () => {
    const user = await seedDepartingUser(models, org, {
      tokens: 2,
      subscriptions: 1,
      opportunities: 2,
    });
    // Broken data: the user has no email, so blocklist-email fails for good.
    await models.users.updateOne({ _id: user.userId }, { $set: { email: null } });
    const accepted = await client.deactivate(user.userId, org.actorId);
    expect(accepted.status).toBe(202);
    const runId = accepted.body?.id ?? '';
    await waitForStatus(runId, 'failed');

    const context = await browser.newContext({
      httpCredentials: { username: operator.username, password: operator.password },
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    // The status tabs of a queue (LATEST, ACTIVE, … FAILED), links with a count badge.
    const statusTab = (label: string) =>
      page.locator('ul[class*="statusTabs"] a').filter({ hasText: label });
    try {
      await page.goto(`${service.baseUrl}/admin/queues`);
      await page.getByRole('link', { name: queueNames.steps }).first().click();
      await statusTab('FAILED').click();
      const card = page.locator('[class*="card-"]').filter({
        hasText: `blocklist-email ${user.userId}`,
      });
      await card.waitFor();
      await card.getByText(/has no email to blocklist/).waitFor();

      // The completed steps of the same run offer no retry.
      await statusTab('COMPLETED').click();
      const completedCard = page.locator('[class*="card-"]').filter({
        hasText: `revoke-tokens ${user.userId}`,
      });
      await completedCard.waitFor();
      expect(await completedCard.locator('svg.lucide-refresh-cw').count()).toBe(0);

      // Fix the data, then retry the failed step from its card.
      await models.users.updateOne({ _id: user.userId }, { $set: { email: user.email } });
      await statusTab('FAILED').click();
      await card.waitFor();
      await card.locator('button:has(svg.lucide-refresh-cw)').click();
      const confirm = page.getByRole('button', { name: /^(confirm|retry)$/i });
      if (await confirm.isVisible().catch(() => false)) await confirm.click();

      await waitForStatus(runId, 'completed');
      await expectEffectsExactlyOnce(models, org, user, runId);
      const retried = await models.auditEvents
        .find({ type: 'job.retried', subjectId: user.userId })
        .lean();
      expect(retried).toHaveLength(1);
      expect(retried[0]?.actorId).toBe(`dashboard:${operator.username}`);

      // Now completed, the retried step offers no retry either.
      await statusTab('COMPLETED').click();
      const retriedCard = page
        .locator('[class*="card-"]')
        .filter({ hasText: `blocklist-email ${user.userId}` });
      await retriedCard.waitFor();
      await retriedCard.getByText('attempt #2').waitFor();
      expect(await retriedCard.locator('svg.lucide-refresh-cw').count()).toBe(0);
    } finally {
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, 'dashboard-retry.png'), fullPage: true });
      await context.close();
    }
  });
});
