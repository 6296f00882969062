import type { Job } from 'bullmq';
import { createApiKey } from '../../src/auth/api-key-repository';
import { createLogger } from '../../src/logging/logger';
import { createServiceMetrics } from '../../src/metrics/service-metrics';
import type { User } from '../../src/models/user.model';
import { runSweepJob, sweepActorId } from '../../src/sweeps/run-sweep.job';
import {
  restoreSweepSchedulers,
  sweepSchedulerId,
  type SweepJobData,
} from '../../src/sweeps/sweep-scheduler';
import type { ApiHarness } from '../support/api-harness';
import {
  expectError,
  issuePaths,
  openKeyedApi,
  runCounts,
  waitForBulkRuns,
  type JsonClient,
  type KeyedApi,
} from '../support/bulk-fixtures';
import {
  daysAgo,
  insertFixtures,
  orgFixture,
  sweepReportFixture,
  teamFixture,
  userFixture,
} from '../../test-kit/factories';
import { startTestWorkers } from '../support/run-helpers';
import { eventually } from '../../test-kit/service-process';
import { deletePrefix } from '../../test-kit/redis-keys';
import { openTestRedis } from '../support/test-env';

// Sweeps (docs/sweeps-and-bulks.md): policies validated and mirrored as BullMQ job schedulers
// (re-created from MongoDB), sweeps that page through dormant users with skips and reasons, dry
// runs, the maxPerRun circuit breaker with admin approval, and one report per fire.

let api: KeyedApi;
let h: ApiHarness;
let client: JsonClient;
let writeKey: string;
let adminKey: string;
const workers: { close: () => Promise<void> }[] = [];

beforeAll(async () => {
  api = await openKeyedApi('sweeps');
  ({ h, client } = api);
  ({ write: writeKey, admin: adminKey } = api.keys);
});

afterAll(async () => {
  for (const running of workers) await running.close();
  await api.close();
}, 30_000);

/** Never fires during a test run: the schedule is real, the sweeps are triggered by hand. */
const farCron = '0 0 1 1 *';

const policyPath = (orgId: string): string => `/v1/orgs/${orgId}/sweep-policy`;
const sweepsPath = (orgId: string): string => `/v1/orgs/${orgId}/sweeps`;

interface SweepBody {
  id: string;
  orgId: string;
  status: string;
  dryRun: boolean;
  matched: number;
  selected: number;
  deactivated: number;
  skippedByReason: Record<string, number>;
  held: boolean;
  maxPerRun: number;
  bulkId: string | null;
  approvedBy: string | null;
  finishedAt: string | null;
}

function policy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enabled: true,
    inactiveDays: 30,
    neverLoggedInDays: 30,
    exemptRoles: [],
    cron: farCron,
    timezone: 'Europe/Paris',
    dryRun: false,
    maxPerRun: 100,
    ...overrides,
  };
}

async function putPolicy(orgId: string, body: Record<string, unknown>): Promise<void> {
  const res = await client.put(policyPath(orgId), body);
  expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 200 });
}

/** An organization with an active admin who logs in (so sweeps meet no last-admin case). */
async function seedOrg(
  extra: (orgId: string) => User[],
): Promise<{ orgId: string; users: User[] }> {
  const org = orgFixture();
  const users = extra(org._id);
  await insertFixtures(h.models, {
    organizations: [org],
    users: [userFixture(org._id, { role: 'admin', lastLoginAt: daysAgo(1) }), ...users],
  });
  return { orgId: org._id, users };
}

/** Fires the organization's sweep now, as its scheduler would, under a chosen job id. */
async function fire(orgId: string, jobId: string): Promise<Job<SweepJobData>> {
  const job: Job<SweepJobData> = await h.producers.sweepsQueue.add(
    `sweep ${orgId}`,
    { orgId } satisfies SweepJobData,
    { jobId },
  );
  return job;
}

/** Polls GET /sweeps until the report of `sweepId` has one of `statuses`; returns it. */
async function waitForReport(
  orgId: string,
  sweepId: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<SweepBody> {
  let seen: SweepBody[] = [];
  try {
    await eventually(
      async () => {
        const res = await client.get(sweepsPath(orgId));
        expect(res.status).toBe(200);
        seen = res.body.items as SweepBody[];
        const report = seen.find((item) => item.id === sweepId);
        return report !== undefined && statuses.includes(report.status);
      },
      timeoutMs,
      `sweep ${sweepId} to be ${statuses.join(' or ')}`,
    );
  } catch (error) {
    throw new Error(`${String(error)}; reports ${JSON.stringify(seen)}`, { cause: error });
  }
  return seen.find((item) => item.id === sweepId)!;
}

async function statusesOf(users: User[]): Promise<string[]> {
  const stored = await h.models.users
    .find({ _id: { $in: users.map((user) => user._id) } }, { status: 1 })
    .lean();
  const byId = new Map(stored.map((user) => [user._id, user.status]));
  return users.map((user) => byId.get(user._id) ?? 'missing');
}

describe('sweep policy', () => {
  it('refuses an invalid policy with 400 and an unknown organization with 404, storing nothing', async () => {
    const { orgId } = await seedOrg(() => []);
    const cases: [Record<string, unknown>, string][] = [
      [policy({ inactiveDays: 29 }), 'body.inactiveDays'],
      [policy({ cron: 'every day at noon' }), 'body.cron'],
      [policy({ cron: '61 * * * *' }), 'body.cron'],
      [policy({ timezone: 'Mars/Olympus_Mons' }), 'body.timezone'],
      [policy({ exemptRoles: ['owner'] }), 'body.exemptRoles.0'],
      [policy({ maxPerRun: 0 }), 'body.maxPerRun'],
      [{ ...policy(), surprise: true }, 'body'],
    ];
    for (const [body, path] of cases) {
      const res = await client.put(policyPath(orgId), body);
      expectError(res, 400, 'validation_failed');
      expect(issuePaths(res)).toContain(path);
    }
    expectError(await client.put(policyPath('org_not_there'), policy()), 404, 'not_found');
    const org = await h.models.organizations.findById(orgId).lean();
    expect(org?.sweepPolicy ?? null).toBeNull();
    expect(await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(orgId))).toBeUndefined();
    expect(
      await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId('org_not_there')),
    ).toBeUndefined();
  });

  it('refuses a malformed or tampered reports cursor with 400', async () => {
    const { orgId } = await seedOrg(() => []);
    for (const raw of ['["yesterday","x"]', '[1e300,"x"]', '[1,{"$gt":""}]', '[1]']) {
      const res = await client.get(
        `${sweepsPath(orgId)}?cursor=${Buffer.from(raw).toString('base64url')}`,
      );
      expect({ raw, status: res.status }).toEqual({ raw, status: 400 });
      expectError(res, 400, 'validation_failed');
      expect(issuePaths(res)).toEqual(['query.cursor']);
    }
  });

  it('lists reports newest first and pages by cursor, a tie on startedAt broken by id', async () => {
    const { orgId } = await seedOrg(() => []);
    const tie = daysAgo(2);
    const reports = [
      sweepReportFixture(orgId, { _id: `${orgId}-a`, startedAt: daysAgo(3) }),
      sweepReportFixture(orgId, { _id: `${orgId}-b`, startedAt: tie }),
      sweepReportFixture(orgId, { _id: `${orgId}-c`, startedAt: tie }),
      sweepReportFixture(orgId, { _id: `${orgId}-d`, startedAt: daysAgo(1) }),
    ];
    await h.models.sweeps.insertMany(reports);
    const newestFirst = [`${orgId}-d`, `${orgId}-c`, `${orgId}-b`, `${orgId}-a`];
    for (const limit of [1, 2, 3, 4]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const res = await client.get(`${sweepsPath(orgId)}?limit=${limit}${query}`);
        expect(res.status).toBe(200);
        const page = res.body as { items: SweepBody[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(limit);
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect({ limit, seen }).toEqual({ limit, seen: newestFirst });
    }
  });

  it('needs the write scope', async () => {
    const { orgId } = await seedOrg(() => []);
    const readOnly = (await createApiKey(h.models, { name: 'r', scopes: ['read'], orgIds: ['*'] }))
      .key;
    expectError(await client.put(policyPath(orgId), policy(), readOnly), 403, 'forbidden');
  });

  it('keeps a job scheduler while enabled, moves it with the cron, removes it when disabled', async () => {
    const { orgId } = await seedOrg(() => []);
    const res = await client.put(policyPath(orgId), {
      enabled: true,
      inactiveDays: 60,
      cron: '0 3 * * *',
    });
    expect(res.status).toBe(200);
    // Defaults filled in and stored.
    const stored = {
      enabled: true,
      inactiveDays: 60,
      neverLoggedInDays: null,
      exemptRoles: [],
      cron: '0 3 * * *',
      timezone: 'UTC',
      dryRun: false,
      maxPerRun: 500,
    };
    expect(res.body).toEqual(stored);
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy).toEqual(stored);
    const scheduler = await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(orgId));
    expect(scheduler).toMatchObject({
      key: `sweep-${orgId}`,
      name: `sweep ${orgId}`,
      pattern: '0 3 * * *',
      tz: 'UTC',
    });
    expect(scheduler?.template?.data).toEqual({ orgId });

    await putPolicy(orgId, policy({ cron: '30 4 * * 1', timezone: 'America/New_York' }));
    expect(await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(orgId))).toMatchObject({
      pattern: '30 4 * * 1',
      tz: 'America/New_York',
    });

    await putPolicy(orgId, policy({ enabled: false }));
    expect(await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(orgId))).toBeUndefined();
    const delayed = await h.producers.sweepsQueue.getDelayed();
    expect(delayed.filter((job) => job.name === `sweep ${orgId}`)).toEqual([]);
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy?.enabled).toBe(false);
  });

  it('re-creates enabled policies’ schedulers from MongoDB after Redis lost them', async () => {
    const enabled = await seedOrg(() => []);
    const disabled = await seedOrg(() => []);
    await putPolicy(enabled.orgId, policy({ cron: '15 2 * * *', timezone: 'Asia/Tokyo' }));
    await putPolicy(disabled.orgId, policy({ enabled: false }));
    expect(
      await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(enabled.orgId)),
    ).toBeDefined();

    // Redis loses this service's keys.
    const cleaner = openTestRedis();
    try {
      await deletePrefix(cleaner, h.config.queuePrefix);
    } finally {
      await cleaner.quit();
    }
    expect(
      await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(enabled.orgId)),
    ).toBeUndefined();

    const restored = await restoreSweepSchedulers(h.models, h.producers.sweepsQueue, {
      logger: createLogger({ logLevel: 'silent' }),
      onSkipped: () => undefined,
    });
    const enabledCount = await h.models.organizations.countDocuments({
      'sweepPolicy.enabled': true,
    });
    expect(restored).toBe(enabledCount);
    expect(
      await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(enabled.orgId)),
    ).toMatchObject({
      pattern: '15 2 * * *',
      tz: 'Asia/Tokyo',
      name: `sweep ${enabled.orgId}`,
    });
    expect(
      await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(disabled.orgId)),
    ).toBeUndefined();
  });
});

describe('sweep schedules', () => {
  it('accepts five standard fields at least an hour apart, and refuses seconds, H, macros and tighter schedules with 400', async () => {
    const { orgId } = await seedOrg(() => []);
    const refused: [string, string, RegExp][] = [
      ['* * * * * *', 'UTC', /five fields/],
      ['0 0 3 * * *', 'UTC', /five fields/],
      ['@daily', 'UTC', /five fields/],
      ['@hourly', 'UTC', /five fields/],
      ['H 3 * * *', 'UTC', /minute field "H"/],
      ['0 H * * *', 'UTC', /hour field "H"/],
      ['0 3 L * *', 'UTC', /day-of-month field "L"/],
      ['0 3 * * 1#2', 'UTC', /day-of-week field/],
      ['* * * * *', 'UTC', /more often than once an hour/],
      ['*/30 * * * *', 'Europe/Paris', /30 minutes apart/],
      ['0,59 4 * * *', 'UTC', /59 minutes apart/],
      // Only on 29 February: the walk reaches the next leap year.
      ['*/10 6 29 2 *', 'UTC', /10 minutes apart/],
      ['61 * * * *', 'UTC', /not a valid cron expression/],
    ];
    for (const [cron, timezone, message] of refused) {
      const res = await client.put(policyPath(orgId), policy({ cron, timezone }));
      expectError(res, 400, 'validation_failed');
      expect({ cron, paths: issuePaths(res) }).toEqual({ cron, paths: ['body.cron'] });
      const details = res.body.error.details as { message: string }[];
      expect({ cron, messages: details.map((issue) => issue.message).join(' | ') }).toEqual({
        cron,
        messages: expect.stringMatching(message) as unknown,
      });
    }
    // Every bad field is its own issue.
    const twoBad = await client.put(policyPath(orgId), policy({ cron: 'H H * * *' }));
    expectError(twoBad, 400, 'validation_failed');
    expect(issuePaths(twoBad)).toEqual(['body.cron', 'body.cron']);
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy ?? null).toBeNull();

    const accepted: [string, string][] = [
      ['0 * * * *', 'Europe/Paris'],
      ['30 1,2 * * *', 'America/New_York'],
      ['0 3 * * MON-FRI', 'UTC'],
      ['15 6 1 JAN,jul *', 'Asia/Tokyo'],
      ['0 */6 * * *', 'Australia/Lord_Howe'],
      [' 0  4 * * * ', 'UTC'],
    ];
    for (const [cron, timezone] of accepted) {
      const res = await client.put(policyPath(orgId), policy({ cron, timezone }));
      expect({ cron, status: res.status, body: res.body as unknown }).toMatchObject({
        cron,
        status: 200,
      });
    }
  });

  it('starts the schedulers of every other organization when a stored policy is invalid, and counts the skipped ones', async () => {
    const good = await seedOrg(() => []);
    const rejected = await seedOrg(() => []);
    const everySecond = await seedOrg(() => []);
    const badZone = await seedOrg(() => []);
    await putPolicy(good.orgId, policy({ cron: '45 5 * * *' }));
    // Written straight to MongoDB by another system: no API validation on the way.
    const writeRaw = async (orgId: string, overrides: Record<string, unknown>): Promise<void> => {
      await h.models.organizations.collection.updateOne({ _id: orgId } as never, {
        $set: { sweepPolicy: policy(overrides) },
      });
    };
    await writeRaw(rejected.orgId, { cron: 'every day at noon' });
    await writeRaw(everySecond.orgId, { cron: '* * * * * *' });
    await writeRaw(badZone.orgId, { timezone: 'Mars/Olympus_Mons' });
    const skippedOrgs = [rejected.orgId, everySecond.orgId, badZone.orgId];
    const metrics = createServiceMetrics([]);
    try {
      const running = await startTestWorkers(
        h.store,
        { QUEUE_PREFIX: h.config.queuePrefix },
        { metrics },
      );
      await running.close();
      expect(
        await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(good.orgId)),
      ).toMatchObject({ pattern: '45 5 * * *' });
      for (const orgId of skippedOrgs) {
        expect({
          orgId,
          scheduler: await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(orgId)),
        }).toEqual({ orgId, scheduler: undefined });
      }
      const skipped = await metrics.registry
        .getSingleMetric('offboard_sweep_policies_skipped_total')
        ?.get();
      expect(skipped?.values).toEqual([
        expect.objectContaining({ labels: { reason: 'invalid_schedule' }, value: 3 }),
      ]);
    } finally {
      // Later tests restore every enabled policy of this database.
      await h.models.organizations.updateMany(
        { _id: { $in: skippedOrgs } },
        { $unset: { sweepPolicy: 1 } },
      );
    }
  });
});

describe('who may lower the sweep’s safety', () => {
  it('needs admin to raise maxPerRun above the default or the current value', async () => {
    const { orgId } = await seedOrg(() => []);
    const raised = await client.put(policyPath(orgId), policy({ maxPerRun: 1_000_000 }));
    expectError(raised, 403, 'sweep_safety_requires_admin');
    expect(raised.body.error.details).toEqual({ fields: ['maxPerRun'] });
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy ?? null).toBeNull();
    expect(await h.producers.sweepsQueue.getJobScheduler(sweepSchedulerId(orgId))).toBeUndefined();
    // Up to the default is fine with write.
    await putPolicy(orgId, policy({ maxPerRun: 500 }));

    const admin = await client.put(policyPath(orgId), policy({ maxPerRun: 2_000 }), adminKey);
    expect({ status: admin.status, body: admin.body as unknown }).toMatchObject({
      status: 200,
      body: { maxPerRun: 2_000 },
    });
    // What an admin set, a write key may keep (editing other fields) or lower, not raise.
    await putPolicy(orgId, policy({ maxPerRun: 2_000, cron: '0 5 * * *' }));
    expectError(
      await client.put(policyPath(orgId), policy({ maxPerRun: 2_001 })),
      403,
      'sweep_safety_requires_admin',
    );
    await putPolicy(orgId, policy({ maxPerRun: 10 }));
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy?.maxPerRun).toBe(10);
    expectError(
      await client.put(policyPath(orgId), policy({ maxPerRun: 600 })),
      403,
      'sweep_safety_requires_admin',
    );
  });

  it('needs admin to remove an exempt role; adding one is fine with write', async () => {
    const { orgId } = await seedOrg(() => []);
    await putPolicy(orgId, policy({ exemptRoles: ['manager'] }));
    await putPolicy(orgId, policy({ exemptRoles: ['manager', 'admin'] }));
    for (const exemptRoles of [[], ['admin'], ['member', 'manager']]) {
      const res = await client.put(policyPath(orgId), policy({ exemptRoles }));
      expectError(res, 403, 'sweep_safety_requires_admin');
      expect(res.body.error.details).toEqual({ fields: ['exemptRoles'] });
    }
    const both = await client.put(policyPath(orgId), policy({ exemptRoles: [], maxPerRun: 501 }));
    expectError(both, 403, 'sweep_safety_requires_admin');
    expect(both.body.error.details).toEqual({ fields: ['maxPerRun', 'exemptRoles'] });
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy?.exemptRoles).toEqual(
      ['manager', 'admin'],
    );
    const admin = await client.put(policyPath(orgId), policy({ exemptRoles: [] }), adminKey);
    expect({ status: admin.status, body: admin.body as unknown }).toMatchObject({
      status: 200,
      body: { exemptRoles: [] },
    });
    expect((await h.models.organizations.findById(orgId).lean())?.sweepPolicy?.exemptRoles).toEqual(
      [],
    );
  });
});

describe('sweeps', () => {
  beforeAll(async () => {
    workers.push(await startTestWorkers(h.store, { QUEUE_PREFIX: h.config.queuePrefix }));
  });

  it('deactivates dormant users (both branches) as system:sweep, skipping exempt roles and team leaders', async () => {
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(31) }),
      userFixture(org, { lastLoginAt: daysAgo(400), kind: 'customer' }),
      userFixture(org, { lastLoginAt: null, createdAt: daysAgo(45) }),
      userFixture(org, { lastLoginAt: daysAgo(90), role: 'manager' }),
      userFixture(org, { lastLoginAt: daysAgo(90) }),
      // Not dormant:
      userFixture(org, { lastLoginAt: daysAgo(29) }),
      userFixture(org, { lastLoginAt: null, createdAt: daysAgo(10) }),
      userFixture(org, { lastLoginAt: daysAgo(3) }),
      userFixture(org, { lastLoginAt: daysAgo(300), status: 'inactive' }),
    ]);
    const [dormant, dormantCustomer, neverLoggedIn, exemptManager, leader, ...kept] = users;
    await insertFixtures(h.models, { teams: [teamFixture(orgId, { leaderId: leader!._id })] });
    await putPolicy(orgId, policy({ exemptRoles: ['manager'] }));

    await fire(orgId, 'fire-1');
    const report = await waitForReport(orgId, `${orgId}-fire-1`, ['completed', 'failed']);
    expect(report).toMatchObject({
      orgId,
      status: 'completed',
      dryRun: false,
      held: false,
      matched: 5,
      selected: 3,
      deactivated: 3,
      maxPerRun: 100,
    });
    expect(report.skippedByReason).toEqual({ exempt_role: 1, team_leader: 1 });
    expect(report.finishedAt).not.toBeNull();

    const swept = [dormant!, dormantCustomer!, neverLoggedIn!];
    expect(await statusesOf(swept)).toEqual(['inactive', 'inactive', 'inactive']);
    expect(await statusesOf([exemptManager!, leader!, ...kept])).toEqual([
      'active',
      'active',
      'active',
      'active',
      'active',
      'inactive',
    ]);
    await waitForBulkRuns(h.models, report.bulkId!);
    const runs = await h.models.deactivations.find({ orgId }).lean();
    expect(runs.map((run) => run.userId).sort()).toEqual(swept.map((user) => user._id).sort());
    for (const run of runs) {
      expect(run).toMatchObject({ source: 'sweep', actorId: sweepActorId, status: 'completed' });
      expect((await h.models.users.findById(run.userId).lean())?.deactivationId).toBe(run._id);
    }
    expect(sweepActorId).toBe('system:sweep');
  });

  it('never deactivates the last active admin', async () => {
    // Two dormant admins and nobody else with the role: one goes, one stays.
    const org = orgFixture();
    const admins = [
      userFixture(org._id, { role: 'admin', lastLoginAt: daysAgo(200) }),
      userFixture(org._id, { role: 'admin', lastLoginAt: daysAgo(300) }),
    ];
    const member = userFixture(org._id, { lastLoginAt: daysAgo(100) });
    // An organization whose only admin is dormant.
    const lonely = orgFixture();
    const onlyAdmin = userFixture(lonely._id, { role: 'admin', lastLoginAt: daysAgo(500) });
    await insertFixtures(h.models, {
      organizations: [org, lonely],
      users: [...admins, member, onlyAdmin],
    });
    await putPolicy(org._id, policy());
    await putPolicy(lonely._id, policy());

    await fire(org._id, 'fire-admins');
    // Job ids are per queue: each fire has its own.
    await fire(lonely._id, 'fire-lonely');
    const report = await waitForReport(org._id, `${org._id}-fire-admins`, ['completed', 'failed']);
    expect(report).toMatchObject({ status: 'completed', matched: 3, selected: 2, deactivated: 2 });
    expect(report.skippedByReason).toEqual({ last_admin: 1 });
    expect((await statusesOf(admins)).sort()).toEqual(['active', 'inactive']);
    expect(await statusesOf([member])).toEqual(['inactive']);

    const lonelyReport = await waitForReport(lonely._id, `${lonely._id}-fire-lonely`, [
      'completed',
      'failed',
    ]);
    expect(lonelyReport).toMatchObject({
      status: 'completed',
      matched: 1,
      selected: 0,
      deactivated: 0,
    });
    expect(lonelyReport.skippedByReason).toEqual({ last_admin: 1 });
    expect(await statusesOf([onlyAdmin])).toEqual(['active']);
    expect(await h.models.deactivations.countDocuments({ orgId: lonely._id })).toBe(0);
  });

  it('dry run: reports who it would deactivate and deactivates nobody', async () => {
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(100) }),
      userFixture(org, { lastLoginAt: daysAgo(200) }),
      userFixture(org, { lastLoginAt: daysAgo(100), role: 'manager' }),
    ]);
    await putPolicy(orgId, policy({ dryRun: true, exemptRoles: ['manager'] }));
    await fire(orgId, 'fire-dry');
    const report = await waitForReport(orgId, `${orgId}-fire-dry`, [
      'dry_run',
      'completed',
      'failed',
    ]);
    expect(report).toMatchObject({
      status: 'dry_run',
      dryRun: true,
      matched: 3,
      selected: 2,
      deactivated: 0,
      held: false,
    });
    expect(report.skippedByReason).toEqual({ exempt_role: 1 });
    expect(await statusesOf(users)).toEqual(['active', 'active', 'active']);
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });

  it('holds a sweep over maxPerRun until an admin approves it', async () => {
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(100) }),
      userFixture(org, { lastLoginAt: daysAgo(110) }),
      userFixture(org, { lastLoginAt: null, createdAt: daysAgo(120) }),
    ]);
    await putPolicy(orgId, policy({ maxPerRun: 2 }));
    await fire(orgId, 'fire-big');
    const sweepId = `${orgId}-fire-big`;
    const held = await waitForReport(orgId, sweepId, ['held', 'completed', 'failed']);
    expect(held).toMatchObject({
      status: 'held',
      held: true,
      matched: 3,
      selected: 3,
      deactivated: 0,
      maxPerRun: 2,
    });
    expect(await statusesOf(users)).toEqual(['active', 'active', 'active']);
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(0);
    // The frozen selection keeps what the sweep saw of each user, and the id of each run to be.
    const items = await h.models.bulkItems.find({ bulkId: `sweep-${sweepId}` }).lean();
    expect(items.map((item) => [item.seen, typeof item.runId])).toEqual(
      users.map(() => [{ kind: 'employee', role: 'member', reactivatedAt: null }, 'string']),
    );

    const approvePath = `${sweepsPath(orgId)}/${sweepId}/approve`;
    expectError(await client.post(approvePath, {}, writeKey), 403, 'forbidden');
    expectError(
      await client.post(`${sweepsPath(orgId)}/nope/approve`, {}, adminKey),
      404,
      'not_found',
    );
    expect(await statusesOf(users)).toEqual(['active', 'active', 'active']);

    const approved = await client.post(approvePath, {}, adminKey);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ id: sweepId, status: 'approved' });
    expect(typeof approved.body.approvedBy).toBe('string');

    const done = await waitForReport(orgId, sweepId, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', selected: 3, deactivated: 3 });
    expect(done.approvedBy).toBe(approved.body.approvedBy);
    expect(await statusesOf(users)).toEqual(['inactive', 'inactive', 'inactive']);
    await waitForBulkRuns(h.models, done.bulkId!);
    const counts = await runCounts(
      h.models,
      users.map((user) => user._id),
    );
    expect([...counts.values()]).toEqual([1, 1, 1]);

    expectError(await client.post(approvePath, {}, adminKey), 409, 'not_held');
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(3);
  });

  it('holds a dry-run sweep over maxPerRun too, deactivating nobody', async () => {
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(100) }),
      userFixture(org, { lastLoginAt: daysAgo(110) }),
      userFixture(org, { lastLoginAt: daysAgo(120) }),
    ]);
    await putPolicy(orgId, policy({ dryRun: true, maxPerRun: 2 }));
    await fire(orgId, 'fire-dry-big');
    const report = await waitForReport(orgId, `${orgId}-fire-dry-big`, [
      'held',
      'dry_run',
      'completed',
      'failed',
    ]);
    expect(report).toMatchObject({
      status: 'held',
      held: true,
      dryRun: true,
      matched: 3,
      selected: 3,
      deactivated: 0,
      maxPerRun: 2,
    });
    expect(await statusesOf(users)).toEqual(['active', 'active', 'active']);
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });

  it('sweeps once per fire: the same job id added twice and run twice leaves one report and one run per user', async () => {
    // A second set of workers on the same queues.
    workers.push(await startTestWorkers(h.store, { QUEUE_PREFIX: h.config.queuePrefix }));
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(100) }),
      userFixture(org, { lastLoginAt: daysAgo(100), kind: 'customer' }),
      userFixture(org, { lastLoginAt: null, createdAt: daysAgo(100) }),
    ]);
    await putPolicy(orgId, policy());

    const [job] = await Promise.all([fire(orgId, 'fire-dup'), fire(orgId, 'fire-dup')]);
    // The same fire handled twice more at once, as two workers would after a stall.
    const deps = {
      models: h.models,
      bulkQueue: h.producers.bulkQueue,
      logger: createLogger({ logLevel: 'silent' }),
    };
    await Promise.all([runSweepJob(job, deps), runSweepJob(job, deps)]);
    const sweepId = `${orgId}-fire-dup`;
    const report = await waitForReport(orgId, sweepId, ['completed', 'failed']);
    expect(report).toMatchObject({ status: 'completed', selected: 3, deactivated: 3 });
    // And once more after it finished.
    await fire(orgId, 'fire-dup');
    await runSweepJob(job, deps);

    const reports = await h.models.sweeps.find({ orgId }).lean();
    expect(reports.map((sweep) => sweep._id)).toEqual([sweepId]);
    expect(await h.models.bulkDeactivations.countDocuments({ orgId })).toBe(1);
    await waitForBulkRuns(h.models, report.bulkId!);
    const counts = await runCounts(
      h.models,
      users.map((user) => user._id),
    );
    expect(Object.fromEntries(counts)).toEqual(
      Object.fromEntries(users.map((user) => [user._id, 1])),
    );
    expect(await statusesOf(users)).toEqual(['inactive', 'inactive', 'inactive']);
  });

  it('finishes a fire whose earlier attempt died right after writing its report', async () => {
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(100) }),
      userFixture(org, { lastLoginAt: daysAgo(200) }),
    ]);
    await putPolicy(orgId, policy());
    const sweepId = `${orgId}-fire-crash`;
    // What the first attempt of job "fire-crash" had written when its worker was killed: the
    // report, before any selection. BullMQ then runs the stalled job again under the same id.
    await h.models.sweeps.collection.insertOne(
      sweepReportFixture(orgId, { _id: sweepId, startedAt: new Date() }) as never,
    );
    const job = await fire(orgId, 'fire-crash');
    await eventually(
      async () => ['completed', 'failed'].includes(await job.getState()),
      15_000,
      'the sweep job',
    );
    const report = await waitForReport(orgId, sweepId, ['completed', 'failed'], 10_000);
    expect(report).toMatchObject({ status: 'completed', selected: 2, deactivated: 2 });
    expect(await statusesOf(users)).toEqual(['inactive', 'inactive']);
    expect(await h.models.sweeps.countDocuments({ orgId })).toBe(1);
  });

  it('sweeps nobody when the policy is disabled', async () => {
    const { orgId, users } = await seedOrg((org) => [
      userFixture(org, { lastLoginAt: daysAgo(100) }),
    ]);
    await putPolicy(orgId, policy({ enabled: false }));
    const job = await fire(orgId, 'fire-off');
    await eventually(async () => (await job.getState()) === 'completed', 15_000, 'the sweep job');
    expect(await h.models.sweeps.countDocuments({ orgId })).toBe(0);
    expect(await statusesOf(users)).toEqual(['active']);
  });
});
