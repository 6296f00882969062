import type { Queue } from 'bullmq';
import { Job } from 'bullmq';
import request from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import { createMetricsApp } from '../../src/api/admin/metrics-app';
import { createApp } from '../../src/api/app';
import type { ErrorBody } from '../../src/api/error-handler';
import { createLogger } from '../../src/logging/logger';
import { runJobId, stepJobId } from '../../src/queues/job-ids';
import { queueNames } from '../../src/queues/queue-names';
import { sweepSchedulerId, syncSweepScheduler } from '../../src/sweeps/sweep-scheduler';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { expectError } from '../support/bulk-fixtures';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import { startTestWorkers, waitForRunStatus } from '../support/run-helpers';
import { eventually } from '../../test-kit/service-process';

const operator = { username: 'ops', password: 'correct horse battery' };
const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const asOperator = basic(operator.username, operator.password);

let h: ApiHarness;
let workers: Awaited<ReturnType<typeof startTestWorkers>>;
let writeKey: string;
let orgId: string;
let actorId: string;
let leaderId: string;
let steps: Queue;

beforeAll(async () => {
  h = await openApiHarness('dashboard', {
    DASHBOARD_USERNAME: operator.username,
    DASHBOARD_PASSWORD: operator.password,
  });
  // One metrics registry for the API and the workers, as in `npm start`.
  workers = await startTestWorkers(
    h.store,
    { QUEUE_PREFIX: h.config.queuePrefix },
    { metrics: h.metrics },
  );
  steps = h.producers.queues.find((queue) => queue.name === queueNames.steps)!;
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  const leader = userFixture(org._id, { role: 'manager' });
  await insertFixtures(h.models, { organizations: [org], users: [actor, leader] });
  orgId = org._id;
  actorId = actor._id;
  leaderId = leader._id;
  writeKey = (
    await createApiKey(h.models, { name: 'w', scopes: ['write', 'read'], orgIds: [orgId] })
  ).key;
});

afterAll(async () => {
  await workers.close();
  await h.close();
});

/** A member with tokens and opportunities in a team led by the leader, whose email is missing. */
async function brokenUser(): Promise<{ userId: string; tokenIds: string[]; oppIds: string[] }> {
  const user = userFixture(orgId, { email: null });
  const team = teamFixture(orgId, { leaderId, memberIds: [user._id] });
  const tokens = [tokenFixture(orgId, user._id), tokenFixture(orgId, user._id)];
  const opps = [opportunityFixture(orgId, user._id), opportunityFixture(orgId, user._id)];
  await insertFixtures(h.models, { users: [user], teams: [team], tokens, opportunities: opps });
  return {
    userId: user._id,
    tokenIds: tokens.map((token) => token._id),
    oppIds: opps.map((opp) => opp._id),
  };
}

async function deactivate(userId: string): Promise<string> {
  const res = await request(h.app)
    .post(`/v1/orgs/${orgId}/deactivations`)
    .set('Authorization', `Bearer ${writeKey}`)
    .send({ userId, actorId });
  expect(res.status).toBe(202);
  return (res.body as { id: string }).id;
}

/** A run whose blocklist step failed for good: its user has no email. */
async function failedRun(): Promise<{ runId: string; userId: string; tokenIds: string[] }> {
  const user = await brokenUser();
  const runId = await deactivate(user.userId);
  const run = await waitForRunStatus(h.models, runId, 'failed');
  expect(run.steps.find((step) => step.name === 'blocklist-email')).toMatchObject({
    status: 'failed',
    attempts: 1,
    error: expect.stringContaining('has no email to blocklist') as unknown,
  });
  // The run reads `failed` a moment before BullMQ settles the job (the failure's webhook event
  // is recorded in between): wait for the job too, as the dashboard shows it.
  const deadline = Date.now() + 10_000;
  const stepJob = stepJobId(runId, 'blocklist-email');
  while ((await steps.getJobState(stepJob)) !== 'failed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { runId, ...user };
}

describe('access to the dashboard', () => {
  it('is off (404) when no dashboard credentials are configured', async () => {
    const closed = createApp({
      mongo: h.store.mongo,
      models: h.models,
      redis: h.redis,
      logger: createLogger({ logLevel: 'silent' }),
      metrics: h.metrics,
      dashboard: null,
      security: h.config.security,
      queuePrefix: h.config.queuePrefix,
      ...h.producers,
    });
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/metrics']) {
      const res = await request(closed).get(path).set('Authorization', asOperator);
      expect([path, res.status, (res.body as { error?: { code: string } }).error?.code]).toEqual([
        path,
        404,
        'not_found',
      ]);
    }
  });

  it('asks for credentials, refuses wrong ones, and opens for Basic or an admin key', async () => {
    const anonymous = await request(h.app).get('/admin/queues');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(
      (await request(h.app).get('/admin/queues').set('Authorization', basic('ops', 'nope'))).status,
    ).toBe(401);
    expect(
      (
        await request(h.app)
          .get('/admin/queues')
          .set('Authorization', basic('x', operator.password))
      ).status,
    ).toBe(401);

    const page = await request(h.app).get('/admin/queues').set('Authorization', asOperator);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div id="root">');

    const adminKey = (await createApiKey(h.models, { name: 'a', scopes: ['admin'], orgIds: ['*'] }))
      .key;
    const api = await request(h.app)
      .get('/admin/queues/api/queues')
      .set('Authorization', `Bearer ${adminKey}`);
    expect(api.status).toBe(200);
    const queues = (api.body as { queues: { name: string; allowCompletedRetries: boolean }[] })
      .queues;
    expect(queues.map((queue) => queue.name).sort()).toEqual(Object.values(queueNames).sort());
    expect(queues.every((queue) => !queue.allowCompletedRetries)).toBe(true);

    const notAdmin = await request(h.app)
      .get('/admin/queues/api/queues')
      .set('Authorization', `Bearer ${writeKey}`);
    expect(notAdmin.status).toBe(403);
  });

  it('refuses state-changing calls that do not come from the dashboard itself (CSRF)', async () => {
    const { runId } = await failedRun();
    const retry = `/admin/queues/api/queues/${queueNames.steps}/${stepJobId(runId, 'blocklist-email')}/retry`;
    const crossSite = await request(h.app)
      .put(retry)
      .set('Authorization', asOperator)
      .set('Sec-Fetch-Site', 'cross-site')
      .set('Origin', 'https://evil.example');
    expect(crossSite.status).toBe(403);
    const foreignOrigin = await request(h.app)
      .put(retry)
      .set('Authorization', asOperator)
      .set('Origin', 'https://evil.example');
    expect(foreignOrigin.status).toBe(403);
    const noOrigin = await request(h.app).put(retry).set('Authorization', asOperator);
    expect(noOrigin.status).toBe(403);
    // Nothing was retried by any of them.
    const job = await Job.fromId(steps, stepJobId(runId, 'blocklist-email'));
    expect(await job!.getState()).toBe('failed');
    expect(await h.models.auditEvents.countDocuments({ type: 'job.retried' })).toBe(0);
  });

  it('is closed to admin keys bound to some organizations, and to the worker metrics app', async () => {
    const orgBound = (
      await createApiKey(h.models, { name: 'org-admin', scopes: ['admin'], orgIds: [orgId] })
    ).key;
    const allScopesOneOrg = (
      await createApiKey(h.models, { name: 'org-all', scopes: ['*'], orgIds: ['org_other', orgId] })
    ).key;
    const erasures = h.producers.queues.find((queue) => queue.name === queueNames.erasures)!;
    const metricsApp = createMetricsApp({
      dashboard: h.config.dashboard,
      models: h.models,
      metrics: h.metrics,
      redis: h.redis,
      security: h.config.security,
      queuePrefix: h.config.queuePrefix,
    });
    for (const key of [orgBound, allScopesOneOrg]) {
      const calls = [
        request(h.app).get('/admin/queues'),
        request(h.app).get('/admin/queues/api/queues'),
        request(h.app).put(`/admin/queues/api/queues/${queueNames.erasures}/pause`),
        request(h.app).put(`/admin/queues/api/queues/${queueNames.steps}/obliterate`),
        request(h.app).get('/metrics'),
        request(metricsApp).get('/metrics'),
      ];
      for (const call of calls) {
        const res = await call.set('Authorization', `Bearer ${key}`);
        expectError(res, 403, 'forbidden');
      }
    }
    expect(await erasures.isPaused()).toBe(false);
    // The same surfaces open for a key bound to all organizations.
    const global = (await createApiKey(h.models, { name: 'g', scopes: ['admin'], orgIds: ['*'] }))
      .key;
    expect(
      (await request(metricsApp).get('/metrics').set('Authorization', `Bearer ${global}`)).status,
    ).toBe(200);
  });
});

describe('what the dashboard refuses', () => {
  const sweepOrg = 'org_dashboard_sweep';
  const schedulerId = sweepSchedulerId(sweepOrg);
  let sweeps: Queue;

  beforeAll(async () => {
    sweeps = h.producers.queues.find((queue) => queue.name === queueNames.sweeps)!;
    // A yearly sweep: its next job waits, delayed, in the queue.
    await syncSweepScheduler(sweeps, sweepOrg, {
      enabled: true,
      inactiveDays: 90,
      neverLoggedInDays: 30,
      exemptRoles: [],
      cron: '0 3 1 1 *',
      timezone: 'UTC',
      dryRun: true,
      maxPerRun: 500,
    });
  });

  afterAll(async () => {
    await sweeps.removeJobScheduler(schedulerId);
  });

  it('refuses every call that creates, runs, reschedules, edits or removes work', async () => {
    const { runId } = await failedRun();
    const failedJobId = stepJobId(runId, 'blocklist-email');
    const failedJob = await Job.fromId(steps, failedJobId);
    const schedulerBefore = await sweeps.getJobScheduler(schedulerId);
    expect(schedulerBefore).toMatchObject({ pattern: '0 3 1 1 *' });
    const countsBefore = {
      steps: await steps.getJobCounts(),
      sweeps: await sweeps.getJobCounts(),
    };
    const base = '/admin/queues/api/queues';
    const refused: [method: 'put' | 'patch' | 'post', path: string, body?: object][] = [
      ['put', `${base}/${queueNames.sweeps}/job-schedulers/${schedulerId}/run`],
      ['patch', `${base}/${queueNames.sweeps}/job-schedulers/${schedulerId}`, { every: 2000 }],
      ['put', `${base}/${queueNames.sweeps}/job-schedulers/${schedulerId}/remove`],
      ['post', `${base}/${queueNames.steps}/add`, { name: 'revoke-tokens x', data: { a: 1 } }],
      ['patch', `${base}/${queueNames.steps}/${failedJobId}/update-data`, { data: { a: 1 } }],
      ['put', `${base}/${queueNames.steps}/${failedJobId}/promote`],
      ['put', `${base}/${queueNames.sweeps}/promote`],
      ['put', `${base}/${queueNames.steps}/clean/failed`],
      ['put', `${base}/${queueNames.steps}/${failedJobId}/clean`],
      ['put', `${base}/${queueNames.steps}/empty`],
      ['put', `${base}/${queueNames.steps}/obliterate`],
      ['patch', `${base}/${queueNames.steps}/${failedJobId}/delay`, { delay: 1000 }],
      ['patch', `${base}/${queueNames.steps}/${failedJobId}/priority`, { priority: 1 }],
      ['put', `${base}/${queueNames.steps}/${failedJobId}/remove-unprocessed-children`],
      ['put', `${base}/${queueNames.steps}/concurrency`, { concurrency: 1 }],
      ['put', `${base}/${queueNames.steps}/rate-limit`, { max: 1, duration: 1000 }],
      ['put', `${base}/${queueNames.steps}/rate-limit/release`],
      ['put', `${base}/pause`],
      ['put', `${base}/resume`],
      ['post', '/admin/queues/api/metrics/history/purge'],
    ];
    const adminKey = (
      await createApiKey(h.models, { name: 'global', scopes: ['admin'], orgIds: ['*'] })
    ).key;
    for (const [method, path, body] of refused) {
      for (const credentials of [asOperator, `Bearer ${adminKey}`]) {
        const agent = request(h.app);
        const res = await agent[method](path)
          .set('Authorization', credentials)
          .set('Sec-Fetch-Site', 'same-origin')
          .send(body ?? {});
        expect([method, path, res.status, (res.body as Partial<ErrorBody>).error?.code]).toEqual([
          method,
          path,
          403,
          'forbidden',
        ]);
      }
    }

    // Nothing changed: the scheduler's schedule, the queues' jobs, the failed job and its data.
    expect(await sweeps.getJobScheduler(schedulerId)).toEqual(schedulerBefore);
    expect(await steps.getJobCounts()).toEqual(countsBefore.steps);
    expect(await sweeps.getJobCounts()).toEqual(countsBefore.sweeps);
    const after = await Job.fromId(steps, failedJobId);
    expect(await after!.getState()).toBe('failed');
    expect(after!.data).toEqual(failedJob!.data);
    expect(await steps.isPaused()).toBe(false);
    expect(await h.models.sweeps.countDocuments({ orgId: sweepOrg })).toBe(0);
  });

  it('still serves the reads the UI makes, schedulers included', async () => {
    for (const path of [
      '/admin/queues/api/queues',
      `/admin/queues/api/job-schedulers?queueName=${queueNames.sweeps}`,
      '/admin/queues/api/redis/stats',
      `/admin/queues/api/queues/${queueNames.steps}/workers`,
      '/admin/queues/job-schedulers',
      `/admin/queues/queue/${queueNames.steps}`,
    ]) {
      const res = await request(h.app).get(path).set('Authorization', asOperator);
      expect([path, res.status]).toEqual([path, 200]);
    }
  });

  it('pauses and resumes one queue, auditing each', async () => {
    const erasures = h.producers.queues.find((queue) => queue.name === queueNames.erasures)!;
    const call = (action: string) =>
      request(h.app)
        .put(`/admin/queues/api/queues/${queueNames.erasures}/${action}`)
        .set('Authorization', asOperator)
        .set('Sec-Fetch-Site', 'same-origin');
    expect((await call('pause')).status).toBe(200);
    expect(await erasures.isPaused()).toBe(true);
    expect((await call('resume')).status).toBe(200);
    expect(await erasures.isPaused()).toBe(false);
    const audit = await h.models.auditEvents
      .find({ subjectId: queueNames.erasures })
      .sort({ at: 1 })
      .lean();
    expect(audit.map((event) => [event.type, event.actorId, event.orgId, event.data])).toEqual([
      ['queue.paused', `dashboard:${operator.username}`, 'system', { queue: queueNames.erasures }],
      ['queue.resumed', `dashboard:${operator.username}`, 'system', { queue: queueNames.erasures }],
    ]);
    // Cross-site, refused like a retry.
    const crossSite = await request(h.app)
      .put(`/admin/queues/api/queues/${queueNames.erasures}/pause`)
      .set('Authorization', asOperator)
      .set('Sec-Fetch-Site', 'cross-site');
    expect(crossSite.status).toBe(403);
    expect(await erasures.isPaused()).toBe(false);
  });
});

describe('retrying from the dashboard', () => {
  it('shows readable names, ids-only data and step logs, and a retry finishes the run once', async () => {
    const { runId, userId, tokenIds } = await failedRun();
    const failedJobId = stepJobId(runId, 'blocklist-email');

    // What an operator sees: readable names, ids only, logs that say what each step changed.
    const failed = await request(h.app)
      .get(`/admin/queues/api/queues/${queueNames.steps}/${failedJobId}`)
      .set('Authorization', asOperator);
    expect(failed.status).toBe(200);
    const failedJob = (failed.body as { job: { name: string; data: Record<string, unknown> } }).job;
    expect(failedJob.name).toBe(`blocklist-email ${userId}`);
    expect(Object.keys(failedJob.data).sort()).toEqual(
      ['orgId', 'requestId', 'runId', 'step', 'userId'].sort(),
    );
    // A completed step says what it changed in its return value (no log line: 3 Redis
    // commands and a key per job saved).
    const revoked = await request(h.app)
      .get(`/admin/queues/api/queues/${queueNames.steps}/${stepJobId(runId, 'revoke-tokens')}`)
      .set('Authorization', asOperator);
    expect((revoked.body as { job: { returnValue: unknown } }).job.returnValue).toEqual({
      summary: 'revoked 2 tokens, sessions and API keys',
      result: { revoked: 2 },
    });
    expect((await steps.getJobLogs(stepJobId(runId, 'revoke-tokens'))).logs).toEqual([]);
    const transferJob = await Job.fromId(steps, stepJobId(runId, 'transfer-opportunities'));
    // No progress written: a completed step shows as completed (5 Redis commands saved each).
    expect(transferJob!.progress).toBe(0);
    expect(await transferJob!.getState()).toBe('completed');
    expect((await steps.getJobLogs(failedJobId)).logs).toEqual([
      expect.stringMatching(/^attempt 1 failed \(final\): invalid_step_data: User .* has no email/),
    ]);

    const before = await h.models.tokens.find({ _id: { $in: tokenIds } }).lean();
    const transfersBefore = await h.models.opportunities.find({ ownerId: leaderId }).lean();

    // The operator fixes the data, then clicks retry.
    await h.models.users.updateOne({ _id: userId }, { $set: { email: `${userId}@fixed.test` } });
    const retried = await request(h.app)
      .put(`/admin/queues/api/queues/${queueNames.steps}/${failedJobId}/retry`)
      .set('Authorization', asOperator)
      .set('Sec-Fetch-Site', 'same-origin')
      .set('Origin', 'http://127.0.0.1');
    expect(retried.status).toBe(204);

    const run = await waitForRunStatus(h.models, runId, 'completed');
    expect(run.steps.map((step) => [step.name, step.status, step.attempts])).toEqual([
      ['revoke-tokens', 'completed', 1],
      ['cancel-subscriptions', 'completed', 1],
      ['transfer-opportunities', 'completed', 1],
      ['remove-from-teams', 'completed', 1],
      ['blocklist-email', 'completed', 2],
    ]);
    expect(run.steps.find((step) => step.name === 'blocklist-email')?.error).toBeNull();
    const view = await request(h.app)
      .get(`/v1/orgs/${orgId}/deactivations/${runId}`)
      .set('Authorization', `Bearer ${writeKey}`);
    expect((view.body as { status: string }).status).toBe('completed');

    // Nothing applied twice: the same revocations, one transfers entry each, one blocklist entry.
    expect(await h.models.tokens.find({ _id: { $in: tokenIds } }).lean()).toEqual(before);
    const transfersAfter = await h.models.opportunities.find({ ownerId: leaderId }).lean();
    expect(transfersAfter.filter((opp) => opp.transfers.length === 1)).toHaveLength(
      transfersBefore.length,
    );
    expect(await h.models.blocklist.countDocuments({ orgId, deactivationId: runId })).toBe(1);
    expect(
      await h.models.auditEvents.countDocuments({
        type: 'deactivation.completed',
        'data.deactivationId': runId,
      }),
    ).toBe(1);

    // The retry is audited with the queue and the job id, by the operator.
    const audit = await h.models.auditEvents
      .find({ type: 'job.retried', subjectId: userId })
      .lean();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      orgId,
      actorId: `dashboard:${operator.username}`,
      data: { queue: queueNames.steps, jobId: failedJobId, deactivationId: runId },
    });
  });

  it('does not retry a completed step, and a forced retry changes nothing', async () => {
    const { runId, userId, tokenIds } = await failedRun();
    await h.models.users.updateOne({ _id: userId }, { $set: { email: `${userId}@fixed.test` } });
    await (await Job.fromId(steps, stepJobId(runId, 'blocklist-email')))!.retry('failed');
    await waitForRunStatus(h.models, runId, 'completed');
    const runBefore = await h.models.deactivations.findById(runId).lean();
    const tokensBefore = await h.models.tokens.find({ _id: { $in: tokenIds } }).lean();
    const auditBefore = await h.models.auditEvents.countDocuments({ subjectId: userId });

    const revokeJobId = stepJobId(runId, 'revoke-tokens');
    const refused = await request(h.app)
      .put(`/admin/queues/api/queues/${queueNames.steps}/${revokeJobId}/retry`)
      .set('Authorization', asOperator)
      .set('Sec-Fetch-Site', 'same-origin');
    expect(refused.status).toBe(403);
    expect(await (await Job.fromId(steps, revokeJobId))!.getState()).toBe('completed');

    // Forced past the dashboard, with BullMQ's own call: the step runs and changes nothing.
    const forced = (await Job.fromId(steps, revokeJobId))!;
    await forced.retry('completed');
    await eventually(
      async () =>
        (await (await Job.fromId(steps, revokeJobId))!.getState()) === 'completed' &&
        (await steps.getJobCountByTypes('wait', 'active')) === 0,
      10_000,
      'the forced retry to finish',
    );
    const runs = h.producers.queues.find((queue) => queue.name === queueNames.runs)!;
    expect(await (await Job.fromId(runs, runJobId(runId)))!.getState()).toBe('completed');
    expect(await h.models.deactivations.findById(runId).lean()).toEqual(runBefore);
    expect(await h.models.tokens.find({ _id: { $in: tokenIds } }).lean()).toEqual(tokensBefore);
    expect(await h.models.auditEvents.countDocuments({ subjectId: userId })).toBe(auditBefore);
  });

  it('retries every failed job of a queue at once, auditing each', async () => {
    const first = await failedRun();
    const second = await failedRun();
    for (const { userId } of [first, second]) {
      await h.models.users.updateOne({ _id: userId }, { $set: { email: `${userId}@fixed.test` } });
    }
    const res = await request(h.app)
      .put(`/admin/queues/api/queues/${queueNames.steps}/retry/failed`)
      .set('Authorization', asOperator)
      .set('Sec-Fetch-Site', 'same-origin');
    expect(res.status).toBe(200);
    expect((res.body as { retried: number }).retried).toBeGreaterThanOrEqual(2);
    await waitForRunStatus(h.models, first.runId, 'completed');
    await waitForRunStatus(h.models, second.runId, 'completed');
    for (const { userId } of [first, second]) {
      expect(
        await h.models.auditEvents.countDocuments({ type: 'job.retried', subjectId: userId }),
      ).toBe(1);
    }
    const refused = await request(h.app)
      .put(`/admin/queues/api/queues/${queueNames.steps}/retry/completed`)
      .set('Authorization', asOperator)
      .set('Sec-Fetch-Site', 'same-origin');
    expect(refused.status).toBe(403);
  });
});

describe('GET /metrics', () => {
  /** The value of one sample line, or undefined. */
  function sample(text: string, name: string, labels: string): number | undefined {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  }

  it('needs the operator credentials', async () => {
    expect((await request(h.app).get('/metrics')).status).toBe(401);
    expect(
      (await request(h.app).get('/metrics').set('Authorization', `Bearer ${writeKey}`)).status,
    ).toBe(403);
  });

  it('reports queue depth by state, step durations and failures, runs and API requests', async () => {
    const { runId } = await failedRun();
    const res = await request(h.app).get('/metrics').set('Authorization', asOperator);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;

    const failedSteps = await steps.getJobCountByTypes('failed');
    expect(failedSteps).toBeGreaterThan(0);
    expect(sample(text, 'offboard_queue_jobs', `queue="${queueNames.steps}",state="failed"`)).toBe(
      failedSteps,
    );
    expect(
      sample(text, 'offboard_queue_jobs', `queue="${queueNames.runs}",state="waiting-children"`),
    ).toBe(
      await h.producers.queues
        .find((q) => q.name === queueNames.runs)!
        .getJobCountByTypes('waiting-children'),
    );

    const completedRuns = await h.models.deactivations.countDocuments({ status: 'completed' });
    expect(sample(text, 'offboard_runs_total', 'status="completed"')).toBe(completedRuns);
    const failedRuns = await h.models.auditEvents.countDocuments({ type: 'job.retried' });
    expect(sample(text, 'offboard_runs_total', 'status="failed"')).toBeGreaterThan(failedRuns);
    expect(
      sample(
        text,
        'offboard_step_failures_total',
        'step="blocklist-email",code="invalid_step_data"',
      ),
    ).toBeGreaterThanOrEqual(failedRuns + 1);
    expect(
      sample(
        text,
        'offboard_step_duration_seconds_count',
        'step="revoke-tokens",outcome="completed"',
      ),
    ).toBe(await h.models.deactivations.countDocuments({ 'steps.0.status': 'completed' }));
    expect(
      sample(
        text,
        'offboard_http_request_duration_seconds_count',
        'method="POST",route="/v1/orgs/:orgId/deactivations",status="202"',
      ),
    ).toBe(await h.models.deactivations.countDocuments({}));
    expect(text).toContain('offboard_process_resident_memory_bytes');
    // Route templates, never raw paths with ids in them.
    expect(text).not.toContain(runId);
  });
});
