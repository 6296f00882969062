import { chromium } from 'playwright-core';
import { createApiKey } from './src/auth/api-key-repository';
import { connectMongo } from './src/infra/mongo-connection';
import { createModels, ensureIndexes } from './src/models/create-models';
import { insertFixtures, orgFixture, teamFixture, tokenFixture, userFixture } from './test/support/factories';
import { startServiceProcess } from './test/support/service-process';

async function main(): Promise<void> {
  const mongo = await connectMongo('mongodb://127.0.0.1:27017/offboard', { dbName: 'explore1' });
  await mongo.dropDatabase();
  const models = createModels(mongo);
  await ensureIndexes(models);
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  const leader = userFixture(org._id, { role: 'manager' });
  const user = userFixture(org._id, { email: null });
  const team = teamFixture(org._id, { leaderId: leader._id, memberIds: [user._id] });
  await insertFixtures(models, { organizations: [org], users: [actor, leader, user], teams: [team], tokens: [tokenFixture(org._id, user._id)] });
  const { key } = await createApiKey(models, { name: 'x', scopes: ['*'], orgIds: ['*'] });
  const svc = await startServiceProcess('main', { MONGO_URL: 'mongodb://127.0.0.1:27017/explore1', QUEUE_PREFIX: 'explore1', DASHBOARD_USERNAME: 'ops', DASHBOARD_PASSWORD: 'password123', LOG_LEVEL: 'info' }, 3999);
  const res = await fetch(`${svc.baseUrl}/v1/orgs/${org._id}/deactivations`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ userId: user._id, actorId: actor._id }) });
  console.log(res.status, await res.text());
  await new Promise((r) => setTimeout(r, 3000));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const context = await browser.newContext({ httpCredentials: { username: 'ops', password: 'password123' } });
  const page = await context.newPage();
  await page.goto(`${svc.baseUrl}/admin/queues/queue/deactivation-steps?status=failed`);
  await page.waitForTimeout(3000);
  await page.screenshot({ path: '/tmp/explore/1.png', fullPage: true });
  const html = await page.content();
  require('fs').writeFileSync('/tmp/explore/1.html', html);
  await browser.close();
  await svc.stop();
  await mongo.close();
  console.log(user._id);
}
void main();
