import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import request, { type Response } from 'supertest';
import { orgParamsSchema } from '../../src/api/schemas/common-schemas';
import {
  deactivationBodySchema,
  deactivationQuerySchema,
} from '../../src/api/schemas/deactivation-schemas';
import { createApiKey, revokeApiKey } from '../../src/auth/api-key-repository';
import { assessDeactivation } from '../../src/deactivation/assess-deactivation';
import { acceptanceSeam, newRun } from '../../src/deactivation/request-deactivation';
import { hashEmail } from '../../src/domain/email';
import { AppError } from '../../src/errors/app-error';
import { stepNames } from '../../src/models/deactivation.model';
import type { User } from '../../src/models/user.model';
import { queueNames } from '../../src/queues/queue-names';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import {
  daysAgo,
  insertFixtures,
  newId,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../support/factories';
import { openTestRedis } from '../support/test-env';

let h: ApiHarness;
let server: Server;
let redis: Redis;
let runsQueue: Queue;
/** `*` scopes, `*` orgs. */
let adminKey: string;
/** `write` and `read`, every organization. */
let writeKey: string;
let writeKeyId: string;

beforeAll(async () => {
  h = await openApiHarness('deactapi');
  server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  redis = openTestRedis();
  runsQueue = new Queue(queueNames.runs, { connection: redis, prefix: h.config.queuePrefix });
  adminKey = (await createApiKey(h.models, { name: 'all', scopes: ['*'], orgIds: ['*'] })).key;
  const write = await createApiKey(h.models, {
    name: 'writer',
    scopes: ['read', 'write'],
    orgIds: ['*'],
  });
  writeKey = write.key;
  writeKeyId = write.id;
});

afterAll(async () => {
  await runsQueue.close();
  await redis.quit();
  await new Promise<void>((resolve, reject) => {
    server.close((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
  await h.close();
});

const api = (): ReturnType<typeof request> => request(server);
const deactivationsPath = (orgId: string): string => `/v1/orgs/${orgId}/deactivations`;

function post(
  orgId: string,
  body: unknown,
  options: { key?: string; query?: string; idempotencyKey?: string } = {},
): Promise<Response> {
  let req = api()
    .post(`${deactivationsPath(orgId)}${options.query ?? ''}`)
    .set('Authorization', `Bearer ${options.key ?? writeKey}`);
  if (options.idempotencyKey !== undefined)
    req = req.set('Idempotency-Key', options.idempotencyKey);
  return req.send(body as object);
}

function get(path: string, key: string = writeKey): Promise<Response> {
  return api().get(path).set('Authorization', `Bearer ${key}`);
}

/** Asserts the contract's error shape `{error: {code, message, details?}}`; returns `error`. */
function expectError(res: Response, status: number, code: string): ApiError {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body as object)).toEqual(['error']);
  const error = res.body.error as ApiError;
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(0);
  for (const field of Object.keys(error)) {
    expect(['code', 'message', 'details']).toContain(field);
  }
  return error;
}

interface ApiError {
  code: string;
  message: string;
  details?: unknown;
}

/** The paths of the zod issues in a 400's details. */
function issuePaths(error: ApiError): unknown[][] {
  expect(Array.isArray(error.details)).toBe(true);
  return (error.details as { path: unknown[] }[]).map((issue) => issue.path);
}

/** An organization with two active admins (so no request meets last_admin) and a manager. */
async function seedOrg(extraUsers: (orgId: string) => User[] = () => []): Promise<{
  orgId: string;
  admin: User;
  admin2: User;
  manager: User;
  users: User[];
}> {
  const org = orgFixture();
  const admin = userFixture(org._id, { role: 'admin' });
  const admin2 = userFixture(org._id, { role: 'admin' });
  const manager = userFixture(org._id, { role: 'manager' });
  const users = extraUsers(org._id);
  await insertFixtures(h.models, {
    organizations: [org],
    users: [admin, admin2, manager, ...users],
  });
  return { orgId: org._id, admin, admin2, manager, users };
}

async function userInDb(id: string): Promise<User | null> {
  return h.models.users.findById(id).lean();
}

async function runsOf(userId: string): Promise<{ _id: string }[]> {
  return h.models.deactivations.find({ userId }, { _id: 1 }).lean();
}

/** Asserts that a refused request changed nothing for the user. */
async function expectUntouched(userId: string): Promise<void> {
  expect(await userInDb(userId)).toMatchObject({ status: 'active' });
  expect((await userInDb(userId))?.deactivationId ?? null).toBeNull();
  expect(await runsOf(userId)).toHaveLength(0);
}

/** Every document of every collection of the test database, in a stable order. */
async function storeSnapshot(): Promise<Record<string, unknown[]>> {
  const db = h.store.mongo.db!;
  const collections = (await db.listCollections().toArray()).map((c) => c.name).sort();
  const snapshot: Record<string, unknown[]> = {};
  for (const name of collections) {
    snapshot[name] = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
  }
  return snapshot;
}

async function redisKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(
      cursor,
      'MATCH',
      `${h.config.queuePrefix}:*`,
      'COUNT',
      1000,
    );
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

const allSteps = (status: 'pending' | 'skipped'): Record<string, string> =>
  Object.fromEntries(stepNames.map((name) => [name, status]));

const stepStatuses = (body: unknown): Record<string, string> =>
  Object.fromEntries(
    (body as { steps: { name: string; status: string }[] }).steps.map((s) => [s.name, s.status]),
  );

describe('POST /v1/orgs/:orgId/deactivations: 202 accepted', () => {
  it('returns the run, names it in Location, flips the user, stores the run and queues its flow', async () => {
    const org = orgFixture();
    const admin = userFixture(org._id, { role: 'admin' });
    const admin2 = userFixture(org._id, { role: 'admin' });
    const leader = userFixture(org._id, { role: 'manager' });
    const user = userFixture(org._id);
    const team = teamFixture(org._id, { leaderId: leader._id, memberIds: [leader._id, user._id] });
    await insertFixtures(h.models, {
      organizations: [org],
      users: [admin, admin2, leader, user],
      teams: [team],
      tokens: [tokenFixture(org._id, user._id), tokenFixture(org._id, user._id)],
      subscriptions: [subscriptionFixture(org._id, user._id)],
      opportunities: [
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id, { status: 'won' }),
      ],
    });

    const res = await post(org._id, {
      userId: user._id,
      actorId: admin._id,
      reason: 'left the company',
    });

    expect(res.status).toBe(202);
    const runId = res.body.id as string;
    expect(typeof runId).toBe('string');
    expect(res.body).toEqual({
      id: runId,
      orgId: org._id,
      userId: user._id,
      actorId: admin._id,
      source: 'api',
      status: 'pending',
      reason: 'left the company',
      allowReactivationOnPurchase: false,
      plan: {
        userKind: 'employee',
        allowReactivationOnPurchase: false,
        cutoff: expect.any(String),
        steps: Object.fromEntries(stepNames.map((name) => [name, true])),
        transferTo: leader._id,
        transferTeamId: team._id,
        teamIds: [team._id],
        counts: {
          'revoke-tokens': 2,
          'cancel-subscriptions': 1,
          'transfer-opportunities': 2,
          'remove-from-teams': 1,
          'blocklist-email': 1,
        },
      },
      steps: stepNames.map((name) => ({
        name,
        status: 'pending',
        attempts: 0,
        result: null,
        error: null,
      })),
      error: null,
      createdAt: expect.any(String),
      completedAt: null,
    });
    expect(new Date(res.body.createdAt as string).toISOString()).toBe(res.body.createdAt);
    expect(new Date(res.body.plan.cutoff as string).toISOString()).toBe(res.body.plan.cutoff);
    expect(res.headers.location).toBe(`/v1/orgs/${org._id}/deactivations/${runId}`);

    const stored = await userInDb(user._id);
    expect(stored).toMatchObject({
      status: 'inactive',
      deactivationId: runId,
      deactivatedBy: admin._id,
    });
    expect(stored?.deactivatedAt).toBeInstanceOf(Date);

    const run = await h.models.deactivations.findById(runId).lean();
    expect(run).toMatchObject({
      orgId: org._id,
      userId: user._id,
      actorId: admin._id,
      source: 'api',
      status: 'pending',
      reason: 'left the company',
    });
    expect(run?.steps.map((s) => s.status)).toEqual(stepNames.map(() => 'pending'));

    const job = await runsQueue.getJob(`run-${runId}`);
    expect(job).toBeDefined();
    expect(job?.name).toBe(`deactivate ${user._id}`);
    // Ids only: the run's, and the request's so its logs can be followed.
    expect(job?.data).toEqual({
      runId,
      orgId: org._id,
      userId: user._id,
      requestId: res.headers['x-request-id'],
    });
    // The parent waits for its chain of step jobs.
    expect(await job?.getState()).toBe('waiting-children');
  });

  it('skips transfer-opportunities and remove-from-teams for a customer', async () => {
    const { orgId, manager, users } = await seedOrg((id) => [
      userFixture(id, { kind: 'customer' }),
    ]);
    const customer = users[0]!;
    const res = await post(orgId, { userId: customer._id, actorId: manager._id });
    expect(res.status).toBe(202);
    expect(stepStatuses(res.body)).toEqual({
      'revoke-tokens': 'pending',
      'cancel-subscriptions': 'pending',
      'transfer-opportunities': 'skipped',
      'remove-from-teams': 'skipped',
      'blocklist-email': 'pending',
    });
    expect(res.body.plan).toMatchObject({ userKind: 'customer', transferTo: null, teamIds: [] });
    expect(res.body.reason).toBeNull();
    expect(await userInDb(customer._id)).toMatchObject({
      status: 'inactive',
      deactivationId: res.body.id,
    });
    expect(await runsQueue.getJob(`run-${res.body.id as string}`)).toBeDefined();
  });

  it('skips blocklist-email with allowReactivationOnPurchase: true and records the choice', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const res = await post(orgId, {
      userId: user._id,
      actorId: admin._id,
      allowReactivationOnPurchase: true,
    });
    expect(res.status).toBe(202);
    expect(stepStatuses(res.body)).toEqual({
      ...allSteps('pending'),
      'blocklist-email': 'skipped',
    });
    expect(res.body.allowReactivationOnPurchase).toBe(true);
    expect(res.body.plan.counts['blocklist-email']).toBe(0);
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      allowReactivationOnPurchase: true,
    });
  });
});

describe('400: bad input, with every zod issue in details', () => {
  let orgId: string;
  let admin: User;
  let user: User;
  beforeAll(async () => {
    const seeded = await seedOrg((id) => [userFixture(id)]);
    orgId = seeded.orgId;
    admin = seeded.admin;
    user = seeded.users[0]!;
  });
  afterAll(async () => {
    await expectUntouched(user._id);
  });

  it('lists both missing fields at once', async () => {
    const error = expectError(await post(orgId, {}), 400, 'validation_failed');
    const paths = issuePaths(error);
    expect(paths.length).toBeGreaterThanOrEqual(2);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['body', 'userId'],
        ['body', 'actorId'],
      ]),
    );
    for (const issue of error.details as Record<string, unknown>[]) {
      expect(issue).toEqual(
        expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
      );
    }
  });

  it('rejects an unknown body field', async () => {
    const error = expectError(
      await post(orgId, { userId: user._id, actorId: admin._id, force: true }),
      400,
      'validation_failed',
    );
    expect(error.details).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['force'], path: ['body'] }),
    ]);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await api()
      .post(deactivationsPath(orgId))
      .set('Authorization', `Bearer ${writeKey}`)
      .set('Content-Type', 'application/json')
      .send('{"userId": "x", ');
    expectError(res, 400, 'validation_failed');
  });

  it('rejects a body that is a JSON array (400) or of a non-JSON content type (415)', async () => {
    expectError(
      await api()
        .post(deactivationsPath(orgId))
        .set('Authorization', `Bearer ${writeKey}`)
        .set('Content-Type', 'application/json')
        .send('[]'),
      400,
      'validation_failed',
    );
    expectError(
      await api()
        .post(deactivationsPath(orgId))
        .set('Authorization', `Bearer ${writeKey}`)
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ userId: user._id, actorId: admin._id })),
      415,
      'unsupported_media_type',
    );
    // No body at all is a 400 about the missing fields, not a 415.
    expectError(
      await api().post(deactivationsPath(orgId)).set('Authorization', `Bearer ${writeKey}`),
      400,
      'validation_failed',
    );
  });

  it('rejects a bad dryRun value, together with body issues', async () => {
    const error = expectError(
      await post(orgId, { userId: user._id, actorId: 42 }, { query: '?dryRun=yes' }),
      400,
      'validation_failed',
    );
    const paths = issuePaths(error);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['query', 'dryRun'],
        ['body', 'actorId'],
      ]),
    );
    expect(paths).toHaveLength(2);
    expectError(
      await post(orgId, { userId: user._id, actorId: admin._id }, { query: '?dryRun=1' }),
      400,
      'validation_failed',
    );
  });

  it('rejects malformed ids, a wrong type and an over-long reason', async () => {
    const error = expectError(
      await post(orgId, {
        userId: 'has space',
        actorId: admin._id,
        reason: 'r'.repeat(1001),
        allowReactivationOnPurchase: 'yes',
      }),
      400,
      'validation_failed',
    );
    const paths = issuePaths(error);
    expect(paths).toEqual(
      expect.arrayContaining([
        ['body', 'userId'],
        ['body', 'reason'],
        ['body', 'allowReactivationOnPurchase'],
      ]),
    );
  });
});

describe('401: who are you', () => {
  it('refuses a request without Authorization, with a wrong key, or a revoked key', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const body = { userId: users[0]!._id, actorId: admin._id };

    expectError(await api().post(deactivationsPath(orgId)).send(body), 401, 'unauthorized');
    expectError(await post(orgId, body, { key: 'ob_not_a_real_key' }), 401, 'unauthorized');
    expectError(
      await api()
        .post(deactivationsPath(orgId))
        .set('Authorization', `Basic ${adminKey}`)
        .send(body),
      401,
      'unauthorized',
    );
    const revoked = await createApiKey(h.models, { name: 'old', scopes: ['*'], orgIds: ['*'] });
    expect((await post(orgId, body, { key: revoked.key, query: '?dryRun=true' })).status).toBe(200);
    expect(await revokeApiKey(h.models, revoked.id)).toBe(true);
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
    const readOnly = await createApiKey(h.models, { name: 'ro', scopes: ['read'], orgIds: ['*'] });
    const writeOnly = await createApiKey(h.models, {
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
    const keyA = await createApiKey(h.models, {
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
    expectError(await post(missingOrg, body, { key: adminKey }), 404, 'not_found');
    expectError(
      await post(missingOrg, body, { key: adminKey, query: '?dryRun=true' }),
      404,
      'not_found',
    );
    expectError(
      await get(`${deactivationsPath(missingOrg)}/${newId('run')}`, adminKey),
      404,
      'not_found',
    );
    expect(await h.models.deactivations.countDocuments({ orgId: missingOrg })).toBe(0);
  });

  it('answers 404 when listing the runs of an unknown organization', async () => {
    expectError(await get(deactivationsPath(newId('org')), adminKey), 404, 'not_found');
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
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });
});

describe('403: policy refusals, each with its rule as code', () => {
  it('refuses actors that may not act, higher roles and self-deactivation, changing nothing', async () => {
    const seeded = await seedOrg((id) => [
      userFixture(id),
      userFixture(id, { role: 'member' }),
      userFixture(id, { role: 'admin', status: 'inactive' }),
      userFixture(id, { role: 'manager', kind: 'customer' }),
    ]);
    const { orgId, admin, admin2, manager } = seeded;
    const [user, member, inactiveAdmin, customerManager] = seeded.users as [User, User, User, User];

    const cases: { body: { userId: string; actorId: string }; code: string }[] = [
      { body: { userId: user._id, actorId: member._id }, code: 'actor_not_allowed' },
      { body: { userId: user._id, actorId: inactiveAdmin._id }, code: 'actor_not_allowed' },
      { body: { userId: user._id, actorId: customerManager._id }, code: 'actor_not_allowed' },
      { body: { userId: admin2._id, actorId: manager._id }, code: 'higher_role' },
      { body: { userId: admin._id, actorId: admin._id }, code: 'self_deactivation' },
      { body: { userId: manager._id, actorId: manager._id }, code: 'self_deactivation' },
    ];
    for (const { body, code } of cases) {
      const res = await post(orgId, body);
      expect({ body, status: res.status, code: res.body?.error?.code }).toEqual({
        body,
        status: 403,
        code,
      });
      expectError(res, 403, code);
    }
    for (const id of [user._id, admin._id, admin2._id, manager._id]) await expectUntouched(id);
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });

  it('lets a manager deactivate a customer whatever its role (customers rank as member)', async () => {
    const { orgId, manager, users } = await seedOrg((id) => [
      userFixture(id, { kind: 'customer', role: 'admin' }),
    ]);
    expect((await post(orgId, { userId: users[0]!._id, actorId: manager._id })).status).toBe(202);
  });
});

describe('409: state conflicts', () => {
  it('already_inactive: the user is inactive and no run is under way', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [
      userFixture(id, { status: 'inactive', deactivatedAt: daysAgo(3) }),
    ]);
    expectError(
      await post(orgId, { userId: users[0]!._id, actorId: admin._id }),
      409,
      'already_inactive',
    );
    expect(await runsOf(users[0]!._id)).toHaveLength(0);
  });

  it('team_leader: details.teamIds lists the led teams in team order', async () => {
    const { orgId, admin, manager } = await seedOrg();
    const base = newId('team');
    const newest = teamFixture(orgId, {
      _id: `${base}_c`,
      leaderId: manager._id,
      createdAt: daysAgo(1),
    });
    const olderB = teamFixture(orgId, {
      _id: `${base}_b`,
      leaderId: manager._id,
      createdAt: daysAgo(3),
    });
    const olderA = teamFixture(orgId, {
      _id: `${base}_a`,
      leaderId: manager._id,
      createdAt: daysAgo(3),
    });
    const onlyMember = teamFixture(orgId, {
      leaderId: admin._id,
      memberIds: [manager._id],
      createdAt: daysAgo(9),
    });
    await insertFixtures(h.models, { teams: [newest, olderB, olderA, onlyMember] });

    const error = expectError(
      await post(orgId, { userId: manager._id, actorId: admin._id }),
      409,
      'team_leader',
    );
    expect(error.details).toEqual({ teamIds: [olderA._id, olderB._id, newest._id] });
    await expectUntouched(manager._id);
  });

  it('a retry finishes a run its first attempt left half-way; another actor still gets 409', async () => {
    const { orgId, admin, admin2, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    // What a store failure between writing the run and switching the user leaves behind.
    const { plan } = await assessDeactivation(
      h.models,
      { orgId, userId: user._id, actorId: admin._id, source: 'api' },
      new Date(),
    );
    const stranded = newRun(
      { orgId, userId: user._id, actorId: admin._id, source: 'api' },
      user,
      plan,
      new Date(Date.now() - 5_000),
    );
    await h.models.deactivations.insertMany([stranded]);

    expectError(
      await post(orgId, { userId: user._id, actorId: admin2._id }),
      409,
      'deactivation_in_progress',
    );
    expect(await userInDb(user._id)).toMatchObject({ status: 'active' });

    const retry = await post(orgId, { userId: user._id, actorId: admin._id });
    expect(retry.status).toBe(202);
    expect(retry.body.id).toBe(stranded._id);
    expect((await runsOf(user._id)).map((run) => run._id)).toEqual([stranded._id]);
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      deactivationId: stranded._id,
    });
    expect(await (await runsQueue.getJob(`run-${stranded._id}`))?.getState()).toBe(
      'waiting-children',
    );
  });

  it('deactivation_in_progress: the user is inactive with a pending run', async () => {
    const { orgId, admin, admin2, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const first = await post(orgId, { userId: user._id, actorId: admin._id });
    expect(first.status).toBe(202);
    const error = expectError(
      await post(orgId, { userId: user._id, actorId: admin2._id }),
      409,
      'deactivation_in_progress',
    );
    expect(error.details).toEqual({ deactivationId: first.body.id });
    expect((await runsOf(user._id)).map((run) => run._id)).toEqual([first.body.id]);
    expect(await userInDb(user._id)).toMatchObject({
      deactivationId: first.body.id,
      deactivatedBy: admin._id,
    });
  });

  it('last_admin: the use-case refuses the last active admin to a system actor (sweep)', async () => {
    // Through the API the actor of an admin's deactivation is itself an active admin, so the
    // user can never be the last one when the checks run; a sweep's system actor is not a user.
    const org = orgFixture();
    const lastAdmin = userFixture(org._id, { role: 'admin' });
    const formerAdmin = userFixture(org._id, { role: 'admin', status: 'inactive' });
    const customerAdmin = userFixture(org._id, { role: 'admin', kind: 'customer' });
    await insertFixtures(h.models, {
      organizations: [org],
      users: [lastAdmin, formerAdmin, customerAdmin],
    });
    const assessment = assessDeactivation(
      h.models,
      {
        orgId: org._id,
        userId: lastAdmin._id,
        actorId: 'system:sweep',
        source: 'sweep',
        systemActor: true,
      },
      new Date(),
    );
    await expect(assessment).rejects.toBeInstanceOf(AppError);
    await expect(assessment).rejects.toMatchObject({ code: 'last_admin', httpStatus: 409 });
    await expectUntouched(lastAdmin._id);
  });

  it('last_admin: two admins deactivating each other at once: exactly one is accepted, every time', async () => {
    // Both requests are held after their checks until both have passed them (the seam), so
    // neither has switched its user when the other checks: the race is certain, not likely.
    // Only the recount after the switch can then refuse one of them.
    for (let round = 0; round < 5; round += 1) {
      const org = orgFixture();
      const x = userFixture(org._id, { role: 'admin' });
      const y = userFixture(org._id, { role: 'admin' });
      await insertFixtures(h.models, { organizations: [org], users: [x, y] });
      const arrived: (() => void)[] = [];
      const bothChecked = new Promise<void>((resolve) => {
        acceptanceSeam.afterChecks = async (request) => {
          if (request.orgId !== org._id) return;
          await new Promise<void>((release) => {
            arrived.push(release);
            if (arrived.length === 2) resolve();
          });
        };
      });
      void bothChecked.then(() => {
        for (const release of arrived) release();
      });
      let answers: Response[];
      try {
        answers = await Promise.all([
          post(org._id, { userId: y._id, actorId: x._id }),
          post(org._id, { userId: x._id, actorId: y._id }),
        ]);
      } finally {
        acceptanceSeam.afterChecks = undefined;
      }
      expect(arrived).toHaveLength(2);
      const statuses = answers.map((res) => res.status).sort();
      expect({ round, statuses }).toEqual({ round, statuses: [202, 409] });
      const refused = answers.find((res) => res.status === 409)!;
      expectError(refused, 409, 'last_admin');
      const accepted = answers.find((res) => res.status === 202)!;
      const acceptedUser = (accepted.body as { userId: string }).userId;
      const keptUser = acceptedUser === x._id ? y._id : x._id;
      expect(await userInDb(acceptedUser)).toMatchObject({
        status: 'inactive',
        deactivationId: (accepted.body as { id: string }).id,
      });
      expect(await userInDb(keptUser)).toMatchObject({ status: 'active' });
      expect(await userInDb(keptUser)).not.toHaveProperty('deactivationId');
      // The refused request left nothing behind: one run, the accepted one's.
      expect(
        (await h.models.deactivations.find({ orgId: org._id }).lean()).map((run) => run._id),
      ).toEqual([(accepted.body as { id: string }).id]);
    }
  });
});

describe('413: body too large', () => {
  it('refuses a body over 100 kB', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const res = await post(orgId, {
      userId: users[0]!._id,
      actorId: admin._id,
      reason: 'x'.repeat(110 * 1024),
    });
    expectError(res, 413, 'payload_too_large');
    await expectUntouched(users[0]!._id);
  });
});

describe('Idempotency-Key', () => {
  const route = 'post /v1/orgs/:orgId/deactivations';
  /** How the service identifies a keyed request (src/api/idempotency.ts). */
  function idempotencyIds(
    apiKeyId: string,
    key: string,
    orgId: string,
    body: unknown,
    query: Record<string, string> = {},
  ): { id: string; requestHash: string } {
    const sha = (value: string): string => createHash('sha256').update(value).digest('hex');
    return {
      id: sha(`${apiKeyId}\n${route}\n${key}`),
      requestHash: sha(
        JSON.stringify({
          params: orgParamsSchema.parse({ orgId }),
          query: deactivationQuerySchema.parse(query),
          body: deactivationBodySchema.parse(body),
        }),
      ),
    };
  }

  it('replays the first response for the same key and body; one run only', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const key = newId('idem');
    const body = { userId: user._id, actorId: admin._id, reason: 'contract ended' };

    const first = await post(orgId, body, { idempotencyKey: key });
    expect(first.status).toBe(202);
    const replay = await post(orgId, body, { idempotencyKey: key });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.location).toBe(first.headers.location);
    expect(replay.headers.location).toBe(
      `/v1/orgs/${orgId}/deactivations/${first.body.id as string}`,
    );
    expect(await runsOf(user._id)).toHaveLength(1);

    // The record is the one the service computes for this request.
    const ids = idempotencyIds(writeKeyId, key, orgId, body);
    expect(await h.models.idempotencyRecords.findById(ids.id).lean()).toMatchObject({
      requestHash: ids.requestHash,
      state: 'done',
      responseStatus: 202,
    });

    // Without the key (or with another) the same body is a new request, refused as a conflict.
    expectError(await post(orgId, body), 409, 'deactivation_in_progress');
    expectError(
      await post(orgId, body, { idempotencyKey: newId('idem') }),
      409,
      'deactivation_in_progress',
    );
    expect(await runsOf(user._id)).toHaveLength(1);
  });

  it('refuses the same key with a different body: 422', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id), userFixture(id)]);
    const key = newId('idem');
    const first = await post(
      orgId,
      { userId: users[0]!._id, actorId: admin._id },
      { idempotencyKey: key },
    );
    expect(first.status).toBe(202);
    expectError(
      await post(orgId, { userId: users[1]!._id, actorId: admin._id }, { idempotencyKey: key }),
      422,
      'idempotency_key_reused',
    );
    expectError(
      await post(
        orgId,
        { userId: users[0]!._id, actorId: admin._id, reason: 'other' },
        { idempotencyKey: key },
      ),
      422,
      'idempotency_key_reused',
    );
    await expectUntouched(users[1]!._id);
    expect(await runsOf(users[0]!._id)).toHaveLength(1);
  });

  it('refuses a duplicate while the first is in flight: 409 idempotency_in_flight', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const key = newId('idem');
    const body = { userId: user._id, actorId: admin._id };
    const ids = idempotencyIds(writeKeyId, key, orgId, body);
    const now = new Date();
    await h.models.idempotencyRecords.insertMany([
      {
        _id: ids.id,
        requestHash: ids.requestHash,
        state: 'in_flight',
        responseStatus: null,
        responseBody: null,
        responseHeaders: {},
        createdAt: now,
        expiresAt: new Date(now.getTime() + 86_400_000),
      },
    ]);
    expectError(await post(orgId, body, { idempotencyKey: key }), 409, 'idempotency_in_flight');
    await expectUntouched(user._id);
    // A different body under the same key is still 422, in flight or not.
    expectError(
      await post(orgId, { ...body, reason: 'x' }, { idempotencyKey: key }),
      422,
      'idempotency_key_reused',
    );
  });

  it('takes over an in-flight record left by a request that died', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const key = newId('idem');
    const body = { userId: user._id, actorId: admin._id };
    const ids = idempotencyIds(writeKeyId, key, orgId, body);
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await h.models.idempotencyRecords.insertMany([
      {
        _id: ids.id,
        requestHash: ids.requestHash,
        state: 'in_flight',
        responseStatus: null,
        responseBody: null,
        responseHeaders: {},
        createdAt: longAgo,
        expiresAt: new Date(longAgo.getTime() + 86_400_000),
      },
    ]);
    const res = await post(orgId, body, { idempotencyKey: key });
    expect(res.status).toBe(202);
    expect(await h.models.idempotencyRecords.findById(ids.id).lean()).toMatchObject({
      state: 'done',
      responseStatus: 202,
    });
    const replay = await post(orgId, body, { idempotencyKey: key });
    expect({ status: replay.status, body: replay.body }).toEqual({ status: 202, body: res.body });
  });

  it('replays a refusal too, and refuses a malformed key', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const key = newId('idem');
    const body = { userId: users[0]!._id, actorId: users[0]!._id };
    const refused = await post(orgId, body, { idempotencyKey: key });
    expectError(refused, 403, 'actor_not_allowed');
    const replay = await post(orgId, body, { idempotencyKey: key });
    expect({ status: replay.status, body: replay.body }).toEqual({
      status: 403,
      body: refused.body,
    });
    expectError(
      await post(
        orgId,
        { userId: users[0]!._id, actorId: admin._id },
        { idempotencyKey: 'x'.repeat(256) },
      ),
      400,
      'validation_failed',
    );
    await expectUntouched(users[0]!._id);
  });
});

describe('dryRun=true', () => {
  it('returns the plan with counts and the transfer target, and changes nothing at all', async () => {
    const now = Date.now();
    const org = orgFixture();
    const admin = userFixture(org._id, { role: 'admin' });
    const admin2 = userFixture(org._id, { role: 'admin' });
    const inactiveLeader = userFixture(org._id, { role: 'manager', status: 'inactive' });
    const leader = userFixture(org._id, { role: 'manager' });
    const user = userFixture(org._id);
    const bystander = userFixture(org._id);
    const firstTeam = teamFixture(org._id, {
      leaderId: inactiveLeader._id,
      memberIds: [user._id],
      createdAt: daysAgo(20),
    });
    const secondTeam = teamFixture(org._id, {
      leaderId: leader._id,
      memberIds: [user._id, bystander._id],
      createdAt: daysAgo(10),
    });
    const otherTeam = teamFixture(org._id, { leaderId: leader._id, memberIds: [bystander._id] });
    await insertFixtures(h.models, {
      organizations: [org],
      users: [admin, admin2, inactiveLeader, leader, user, bystander],
      // Inserted newest first: the order is the teams', not the insertion's.
      teams: [otherTeam, secondTeam, firstTeam],
      tokens: [
        tokenFixture(org._id, user._id),
        tokenFixture(org._id, user._id, { type: 'refresh' }),
        tokenFixture(org._id, user._id, { type: 'api_key', expiresAt: null as never }),
        tokenFixture(org._id, user._id, { revokedAt: daysAgo(1), revokedReason: 'logout' }),
        tokenFixture(org._id, user._id, { issuedAt: new Date(now + 3_600_000) }),
        tokenFixture(org._id, bystander._id),
      ],
      subscriptions: [
        subscriptionFixture(org._id, user._id),
        subscriptionFixture(org._id, user._id, { status: 'trialing' }),
        subscriptionFixture(org._id, user._id, { status: 'past_due' }),
        subscriptionFixture(org._id, user._id, { status: 'canceled', canceledAt: daysAgo(5) }),
        subscriptionFixture(org._id, bystander._id),
      ],
      opportunities: [
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id),
        opportunityFixture(org._id, user._id, { status: 'won' }),
        opportunityFixture(org._id, user._id, { status: 'lost' }),
        opportunityFixture(org._id, bystander._id),
      ],
    });

    const storeBefore = await storeSnapshot();
    const keysBefore = await redisKeys();
    const res = await post(
      org._id,
      { userId: user._id, actorId: admin._id, reason: 'preview' },
      { query: '?dryRun=true' },
    );

    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toEqual({
      dryRun: true,
      userId: user._id,
      plan: {
        userKind: 'employee',
        allowReactivationOnPurchase: false,
        cutoff: expect.any(String),
        steps: Object.fromEntries(stepNames.map((name) => [name, true])),
        transferTo: leader._id,
        transferTeamId: secondTeam._id,
        teamIds: expect.arrayContaining([firstTeam._id, secondTeam._id]),
        counts: {
          'revoke-tokens': 3,
          'cancel-subscriptions': 3,
          'transfer-opportunities': 2,
          'remove-from-teams': 2,
          'blocklist-email': 1,
        },
      },
    });
    expect(res.body.plan.teamIds).toHaveLength(2);

    expect(await storeSnapshot()).toEqual(storeBefore);
    expect(await redisKeys()).toEqual(keysBefore);
    expect(await userInDb(user._id)).toMatchObject({ status: 'active' });
    expect(await h.models.deactivations.countDocuments({ orgId: org._id })).toBe(0);

    // dryRun=false is the real request.
    const real = await post(
      org._id,
      { userId: user._id, actorId: admin._id },
      { query: '?dryRun=false' },
    );
    expect(real.status).toBe(202);
    expect(real.body.plan.counts).toEqual(res.body.plan.counts);
    expect(real.body.plan.transferTo).toBe(leader._id);
  });

  it('counts 0 for the blocklist when the email is already blocked, or reactivation on purchase is allowed', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [
      userFixture(id, { email: 'Blocked.Person@Example.test' }),
    ]);
    const user = users[0]!;
    const dry = (body: object): Promise<Response> => post(orgId, body, { query: '?dryRun=true' });

    const open = await dry({
      userId: user._id,
      actorId: admin._id,
      allowReactivationOnPurchase: true,
    });
    expect(open.status).toBe(200);
    expect(open.body.plan).toMatchObject({
      allowReactivationOnPurchase: true,
      steps: { 'blocklist-email': false },
      counts: { 'blocklist-email': 0 },
    });

    await h.models.blocklist.create({
      _id: newId('blk'),
      orgId,
      emailHash: hashEmail('blocked.person@example.test'),
      email: 'blocked.person@example.test',
      reason: 'user_deactivated',
      createdAt: new Date(),
      createdBy: admin._id,
      deactivationId: null,
    });
    const blocked = await dry({ userId: user._id, actorId: admin._id });
    expect(blocked.status).toBe(200);
    expect(blocked.body.plan).toMatchObject({
      steps: { 'blocklist-email': true },
      counts: { 'blocklist-email': 0 },
    });
  });

  it('gives a refused request the same refusal as the real request, and changes nothing', async () => {
    const { orgId, admin, manager, users } = await seedOrg((id) => [
      userFixture(id, { status: 'inactive' }),
      userFixture(id, { role: 'member' }),
    ]);
    const [inactive, member] = users as [User, User];
    const team = teamFixture(orgId, { leaderId: manager._id });
    await insertFixtures(h.models, { teams: [team] });
    const cases = [
      { userId: admin._id, actorId: admin._id },
      { userId: admin._id, actorId: manager._id },
      { userId: member._id, actorId: member._id },
      { userId: member._id, actorId: newId('usr') },
      { userId: inactive._id, actorId: admin._id },
      { userId: manager._id, actorId: admin._id },
      { userId: newId('usr'), actorId: admin._id },
      { userId: member._id, actorId: admin._id, unknown: 1 },
    ];
    const storeBefore = await storeSnapshot();
    const dryResults = [];
    for (const body of cases) {
      const dry = await post(orgId, body, { query: '?dryRun=true' });
      dryResults.push({ status: dry.status, body: dry.body as unknown });
    }
    expect(await storeSnapshot()).toEqual(storeBefore);
    expect(dryResults.map((r) => r.status)).toEqual([403, 403, 403, 404, 409, 409, 404, 400]);
    for (const [index, body] of cases.entries()) {
      const real = await post(orgId, body);
      expect({ body, status: real.status, response: real.body }).toEqual({
        body,
        status: dryResults[index]!.status,
        response: dryResults[index]!.body,
      });
    }
    expect(await h.models.deactivations.countDocuments({ orgId })).toBe(0);
  });
});

describe('GET a run and the list', () => {
  it('returns the run as accepted', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const created = await post(orgId, { userId: users[0]!._id, actorId: admin._id });
    expect(created.status).toBe(202);
    const res = await get(created.headers.location!);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created.body);
    const readOnly = await createApiKey(h.models, { name: 'r', scopes: ['read'], orgIds: [orgId] });
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
      (await h.models.deactivations.findById(run.id).lean())?.createdAt.getTime(),
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

    await h.models.deactivations.updateOne(
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

describe('concurrent duplicates', () => {
  it('accepts exactly one of 50 identical concurrent requests and stores one run', async () => {
    const { orgId, admin, users } = await seedOrg((id) => [userFixture(id)]);
    const user = users[0]!;
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => post(orgId, { userId: user._id, actorId: admin._id })),
    );
    const statuses = responses.map((res) => res.status);
    // One run: the first request accepts it; a duplicate arriving after it was written may
    // be answered with that same run (a retry finishing a stranded acceptance), never another.
    const acceptedIds = new Set(
      responses.filter((r) => r.status === 202).map((r) => String(r.body.id)),
    );
    expect(acceptedIds.size).toBe(1);
    expect(statuses.filter((status) => status !== 202 && status !== 409)).toEqual([]);
    for (const res of responses.filter((r) => r.status === 409)) {
      expect(['deactivation_in_progress', 'already_inactive']).toContain(res.body.error.code);
      expectError(res, 409, res.body.error.code as string);
    }
    const accepted = responses.find((res) => res.status === 202)!;
    const runs = await runsOf(user._id);
    expect(runs.map((run) => run._id)).toEqual([accepted.body.id]);
    expect(await userInDb(user._id)).toMatchObject({
      status: 'inactive',
      deactivationId: accepted.body.id,
    });
    expect(await runsQueue.getJob(`run-${accepted.body.id as string}`)).toBeDefined();
  });
});
