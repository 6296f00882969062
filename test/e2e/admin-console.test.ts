import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { User } from '../../src/models/user.model';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { launchChromium } from '../support/browser';
import { listen } from '../support/bulk-fixtures';
import {
  daysAgo,
  insertFixtures,
  orgFixture,
  teamFixture,
  userFixture,
} from '../../test-kit/factories';
import { startTestWorkers } from '../support/run-helpers';
import { eventually } from '../../test-kit/service-process';
import { screenshotDir } from '../support/test-env';

// The admin console as a person uses it (README, Admin console), in Debian's headless Chromium:
// sign in, deactivate from the row menu, a bulk from Activity across pages with its preview and
// progress, reactivate, delete with the typed email, follow a run, approve a held sweep; the
// database is checked after each, axe-core finds no serious or critical violation on any
// screen, and each screen is saved (to docs/images for the README when asked: screenshotDir).

const images = path.join(__dirname, '../..', screenshotDir);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

let h: ApiHarness;
let stopServer: () => Promise<void>;
let stopWorkers: () => Promise<void>;
let baseUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let apiKey: string;
const cspErrors: string[] = [];
const pageErrors: string[] = [];

const org = orgFixture({ name: 'Acme Corp' });
const person = (first: string, last: string, overrides: Partial<User> = {}): User =>
  userFixture(org._id, {
    firstName: first,
    lastName: last,
    email: `${first}.${last}@acme.test`.toLowerCase(),
    ...overrides,
  });
const admin = person('Ada', 'Lovelace', { role: 'admin' });
const secondAdmin = person('Grace', 'Hopper', { role: 'admin', lastLoginAt: daysAgo(3) });
const leader = person('Linus', 'Leader', { role: 'manager', lastLoginAt: null });
const maria = person('Maria', 'Member', { lastLoginAt: daysAgo(5) });
const neverEmployees = ['Ned', 'Nora', 'Nick'].map((first) =>
  person(first, 'Newcomer', { lastLoginAt: null }),
);
// Enough never-logged-in customers that the selection spans more than the 50 rows shown.
const neverCustomers = Array.from({ length: 46 }, (_, index) =>
  person(`Cust${String(index).padStart(2, '0')}`, 'Shopper', {
    kind: 'customer',
    lastLoginAt: null,
  }),
);
// Sorts last by id among the never-logged-in, so it is on the second page.
const beyondFirstPage = person('Zed', 'Lastpage', {
  _id: 'usr_zzzz_beyond_first_page',
  kind: 'customer',
  lastLoginAt: null,
});
const dormantCustomers = ['Dora', 'Dave'].map((first) =>
  person(first, 'Dormant', { kind: 'customer', lastLoginAt: daysAgo(200) }),
);
const team = teamFixture(org._id, {
  name: 'Sales East',
  leaderId: leader._id,
  memberIds: [maria._id, ...neverEmployees.map((user) => user._id)],
});
const bulkTargets = [...neverEmployees, ...neverCustomers, beyondFirstPage];

beforeAll(async () => {
  h = await openApiHarness('console-e2e', {
    DASHBOARD_USERNAME: 'ops',
    DASHBOARD_PASSWORD: 'ops-password',
  });
  const workers = await startTestWorkers(h.store, { QUEUE_PREFIX: h.config.queuePrefix });
  stopWorkers = workers.close;
  const listening = await listen(h);
  stopServer = listening.close;
  const address = listening.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  baseUrl = `http://127.0.0.1:${address.port}`;
  await insertFixtures(h.models, {
    organizations: [org],
    users: [
      admin,
      secondAdmin,
      leader,
      maria,
      ...neverEmployees,
      ...neverCustomers,
      beyondFirstPage,
      ...dormantCustomers,
    ],
    teams: [team],
  });
  apiKey = (
    await createApiKey(h.models, {
      name: 'console',
      scopes: ['*'],
      orgIds: [org._id],
      actorId: admin._id,
    })
  ).key;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: desktop });
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      cspErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => {
    pageErrors.push(error.message);
  });
});

afterAll(async () => {
  await browser.close();
  await stopServer();
  await stopWorkers();
  await h.close();
});

afterEach(() => {
  expect({ cspErrors, pageErrors }).toEqual({ cspErrors: [], pageErrors: [] });
});

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: { target: unknown }[];
}

/** axe-core in the page: no serious or critical violation. */
async function expectAccessible(what: string): Promise<void> {
  await page.evaluate(axeSource);
  // A string, evaluated in the page: the test is compiled without the DOM's types.
  const result: AxeViolation[] = await page.evaluate(
    'axe.run(document).then((result) => result.violations)',
  );
  const violations = result
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      targets: violation.nodes.map((node) => JSON.stringify(node.target)),
    }));
  expect({ what, violations }).toEqual({ what, violations: [] });
}

async function screenshot(name: string, options: { phone?: boolean } = {}): Promise<void> {
  if (options.phone) await page.setViewportSize(phone);
  await page.screenshot({ path: path.join(images, `console-${name}.png`) });
  if (options.phone) await page.setViewportSize(desktop);
}

const statusOf = async (userId: string): Promise<string | undefined> =>
  (await h.models.users.findById(userId).lean())?.status;

const row = (name: string) => page.getByRole('row').filter({ hasText: name });

it('signs in with an admin key; the browser holds only an HttpOnly session cookie', async () => {
  await page.goto(`${baseUrl}/admin/users`);
  await page.waitForURL('**/admin/sign-in');
  await expectAccessible('sign-in');
  await page.getByLabel('API key').fill('ofb_not_a_key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('This API key is not valid').waitFor();
  await screenshot('sign-in');
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/admin/users');
  const cookies = await context.cookies();
  expect(cookies).toHaveLength(1);
  expect(cookies[0]).toMatchObject({
    name: 'offboard_console',
    httpOnly: true,
    sameSite: 'Strict',
  });
  expect(cookies[0]!.expires).toBeGreaterThan(Date.now() / 1000);
  expect(JSON.stringify(cookies)).not.toContain(apiKey);
  expect(await page.evaluate('document.cookie')).toBe('');
});

it('Users: deactivates one user from the row menu, and explains a refusal', async () => {
  await row('maria.member@acme.test').waitFor();
  await expect(
    page.getByRole('tab', { name: 'Employees' }).getAttribute('aria-selected'),
  ).resolves.toBe('true');
  await expectAccessible('users');
  await screenshot('users');
  await screenshot('users-phone', { phone: true });

  // A team leader is refused, in words, naming the team.
  await page.getByRole('button', { name: 'Actions for Linus Leader' }).click();
  await page.getByRole('menuitem', { name: 'Deactivate' }).click();
  const refused = page.getByRole('dialog', { name: 'Deactivate Linus Leader' });
  await refused.getByRole('button', { name: 'Deactivate' }).click();
  await refused.getByText(`Linus Leader leads 1 team (${team._id})`).waitFor();
  await refused.getByRole('button', { name: 'Cancel' }).click();
  expect(await statusOf(leader._id)).toBe('active');

  await page.getByRole('button', { name: 'Actions for Maria Member' }).click();
  await page.getByRole('menuitem', { name: 'Deactivate' }).click();
  const dialog = page.getByRole('dialog', { name: 'Deactivate Maria Member' });
  await dialog.getByLabel('Reason (optional)').fill('Left the company');
  await dialog.getByLabel('Allow reactivation with future purchases').check();
  await expectAccessible('deactivate dialog');
  await screenshot('deactivate');
  await dialog.getByRole('button', { name: 'Deactivate' }).click();
  await row('maria.member@acme.test').getByText('Deactivated').waitFor();
  const stored = await h.models.users.findById(maria._id).lean();
  expect(stored).toMatchObject({ status: 'inactive', allowReactivationOnPurchase: true });
  const run = await h.models.deactivations.findOne({ userId: maria._id }).lean();
  expect(run).toMatchObject({ reason: 'Left the company', actorId: admin._id, source: 'api' });

  await page.getByRole('tab', { name: 'Customers' }).click();
  await row('dora.dormant@acme.test').waitFor();
  expect(await row('maria.member@acme.test').count()).toBe(0);
});

it('Runs: shows the run’s steps live, with links to the jobs in the queue dashboard', async () => {
  const run = await h.models.deactivations.findOne({ userId: maria._id }).lean();
  await page.goto(`${baseUrl}/admin/runs`);
  await page.getByRole('link', { name: run!._id }).click();
  await page.waitForURL(`**/admin/runs/${run!._id}`);
  const steps = page.getByRole('table', { name: 'Steps' });
  await steps
    .getByRole('row')
    .filter({ hasText: 'revoke-tokens' })
    .getByText('Completed')
    .waitFor();
  await page.getByRole('definition').filter({ hasText: 'Completed' }).first().waitFor();
  await eventually(
    async () => (await page.getByRole('row').filter({ hasText: 'Completed' }).count()) >= 2,
    20_000,
    'steps to complete on the page',
  );
  const jobLink = page.getByRole('link', { name: 'Open the run’s job in the queue dashboard' });
  expect(await jobLink.getAttribute('href')).toBe(
    `/admin/queues/queue/deactivations/run-${run!._id}`,
  );
  await expectAccessible('run');
  await screenshot('run');
});

it('Activity: selects every never-logged-in user across pages, previews skips, deactivates, shows progress', async () => {
  await page.goto(`${baseUrl}/admin/activity`);
  await page.getByLabel('Status').selectOption({ label: 'Never logged in' });
  await row('cust00.shopper@acme.test').waitFor();
  expect(await row('zed.lastpage@acme.test').count()).toBe(0);
  await page.getByRole('checkbox', { name: 'Select all' }).check();
  await page.getByText('every page, not only the 50 users shown').waitFor();
  await page.getByText('All matching users selected').waitFor();
  await expectAccessible('activity');
  await screenshot('activity');
  await screenshot('activity-phone', { phone: true });

  await page
    .getByRole('region', { name: 'Selection' })
    .getByRole('button', { name: 'Deactivate' })
    .click();
  const dialog = page.getByRole('dialog', { name: 'Deactivate users' });
  await dialog
    .getByText(`${bulkTargets.length} users will be deactivated.`)
    .waitFor({ timeout: 30_000 });
  await dialog.getByText('1 user will be skipped: 1 leads a team').waitFor();
  await dialog.getByText('Linus Leader (linus.leader@acme.test) — skipped: leads a team').waitFor();
  await dialog.getByRole('button', { name: 'See all' }).click();
  await dialog.getByText('Zed Lastpage (zed.lastpage@acme.test)').waitFor();
  await expectAccessible('bulk preview');
  await screenshot('bulk-preview');
  // The preview changed nothing.
  expect(await statusOf(beyondFirstPage._id)).toBe('active');

  await dialog.getByRole('button', { name: 'Deactivate users' }).click();
  await dialog.getByRole('progressbar', { name: 'Progress' }).waitFor();
  await dialog.getByText(/^(Deactivated \d+ of \d+|Done)/).waitFor();
  await screenshot('bulk-progress');
  await dialog
    .getByText(`Done: ${bulkTargets.length} users deactivated, 1 skipped.`)
    .waitFor({ timeout: 120_000 });
  for (const user of bulkTargets)
    expect([user.email, await statusOf(user._id)]).toEqual([user.email, 'inactive']);
  expect(await statusOf(leader._id)).toBe('active');
  const bulk = await h.models.bulkDeactivations.findOne({ dryRun: false }).lean();
  expect(bulk).toMatchObject({ actorId: admin._id, filter: { activity: 'never_logged_in' } });
  expect(
    await h.models.deactivations.countDocuments({ bulkId: bulk!._id, status: 'completed' }),
  ).toBe(bulkTargets.length);
  await dialog.getByRole('button', { name: 'Close' }).click();
});

it('Users: reactivates one user and deletes another with the typed email', async () => {
  await page.goto(`${baseUrl}/admin/users`);
  await page.getByRole('button', { name: 'Actions for Maria Member' }).click();
  await page.getByRole('menuitem', { name: 'Activate' }).click();
  const activate = page.getByRole('dialog', { name: 'Activate Maria Member' });
  await expectAccessible('activate dialog');
  await activate.getByRole('button', { name: 'Activate' }).click();
  await row('maria.member@acme.test').getByText('Active', { exact: true }).waitFor();
  expect(await statusOf(maria._id)).toBe('active');

  const ned = neverEmployees[0]!;
  await page.getByRole('button', { name: 'Actions for Ned Newcomer' }).click();
  await page.getByRole('menuitem', { name: 'Delete' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete Ned Newcomer' });
  const confirm = dialog.getByRole('button', { name: 'Delete' });
  const typed = dialog.getByLabel(`Type ${ned.email} to confirm`);
  await typed.fill('ned@wrong.test');
  expect(await confirm.isDisabled()).toBe(true);
  await typed.fill(ned.email!);
  await expectAccessible('delete dialog');
  await screenshot('delete');
  await confirm.click();
  await row('Deleted').first().waitFor();
  await eventually(
    async () => (await h.models.users.findById(ned._id).lean())?.status === 'deleted',
    20_000,
    'the user to be deleted',
  );
});

it('Sweeps: validates the policy form, then approves a held sweep', async () => {
  await page.goto(`${baseUrl}/admin/sweeps`);
  const inactiveDays = page.getByLabel('Deactivate after this many days without login');
  await inactiveDays.fill('10');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByText('Must be 30 days or more.').waitFor();
  await inactiveDays.fill('30');
  await page.getByLabel('Schedule (cron)').fill('every night');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByText(/must have exactly five fields/).waitFor();
  expect((await h.models.organizations.findById(org._id).lean())?.sweepPolicy ?? null).toBeNull();

  await page.getByLabel('Schedule (cron)').fill('0 0 1 1 *');
  await page.getByLabel('Run sweeps on this schedule').check();
  await page.getByLabel('Hold a sweep that would deactivate more than').fill('1');
  await page.getByLabel('Admin').check();
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.getByText('Sweep policy saved.').waitFor();
  expect((await h.models.organizations.findById(org._id).lean())?.sweepPolicy).toMatchObject({
    enabled: true,
    inactiveDays: 30,
    maxPerRun: 1,
    exemptRoles: ['admin'],
  });

  // Fired now, as its scheduler would on the schedule.
  await h.producers.sweepsQueue.add(
    `sweep ${org._id}`,
    { orgId: org._id },
    { jobId: 'console-fire' },
  );
  const sweepId = `${org._id}-console-fire`;
  await eventually(
    async () => (await h.models.sweeps.findById(sweepId).lean())?.status === 'held',
    30_000,
    'the sweep to be held',
  );
  await page.reload();
  const approve = page.getByRole('button', { name: /^Approve the sweep/ });
  await approve.waitFor();
  await expectAccessible('sweeps');
  await screenshot('sweeps');
  await screenshot('sweeps-phone', { phone: true });
  await approve.click();
  await page.getByText('Sweep approved').waitFor();
  await eventually(
    async () =>
      (await Promise.all(dormantCustomers.map((user) => statusOf(user._id)))).every(
        (status) => status === 'inactive',
      ),
    60_000,
    'the held sweep’s users to be deactivated',
  );
  expect(await h.models.sweeps.findById(sweepId).lean()).toMatchObject({
    approvedBy: expect.any(String) as unknown,
  });
});

it('signs out', async () => {
  await page.goto(`${baseUrl}/admin/users`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/admin/sign-in');
  expect(await context.cookies()).toEqual([]);
  await page.goto(`${baseUrl}/admin/activity`);
  await page.waitForURL('**/admin/sign-in');
});
