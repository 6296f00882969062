import request from 'supertest';
import { createHash } from 'node:crypto';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { User } from '../../src/models/user.model';
import { enqueueErasure } from '../../src/queues/erasure-queue';
import { keysUnder } from '../../test-kit/redis-keys';
import {
  insertFixtures,
  newId,
  opportunityFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';
import {
  deactivateAndWait,
  deactivateInStore,
  errorCode,
  openLifecycleHarness,
  seedLifecycleOrg,
  until,
  type LifecycleHarness,
} from '../support/lifecycle-harness';

let t: LifecycleHarness;

beforeAll(async () => {
  t = await openLifecycleHarness('erasure');
});

afterAll(async () => {
  await t.close();
});

const deletionsPath = (orgId: string): string => `/v1/orgs/${orgId}/deletions`;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

async function userInDb(id: string): Promise<User | null> {
  return t.h.models.users.findById(id).lean();
}

/** Waits for the erasure job to finish: it sets `deletedAt` last. */
function erased(userId: string): Promise<User> {
  return until(async () => {
    const user = await userInDb(userId);
    return user?.deletedAt ? user : undefined;
  }, `the erasure of ${userId}`);
}

/** Every document of every collection of the test database, as lower-cased JSON. */
async function storeText(): Promise<Record<string, string>> {
  const db = t.h.store.mongo.db!;
  const collections = (await db.listCollections().toArray()).map((c) => c.name).sort();
  const text: Record<string, string> = {};
  for (const name of collections) {
    const documents = await db.collection(name).find({}).toArray();
    text[name] = documents.map((document) => JSON.stringify(document).toLowerCase()).join('\n');
  }
  return text;
}

/** Every value under the queue prefix in Redis (job data, return values, events), lower-cased. */
async function redisText(): Promise<string> {
  const values: unknown[] = [];
  for (const key of await keysUnder(t.redis, t.h.config.queuePrefix)) {
    const type = await t.redis.type(key);
    if (type === 'hash') values.push(await t.redis.hgetall(key));
    else if (type === 'string') values.push(await t.redis.get(key));
    else if (type === 'list') values.push(await t.redis.lrange(key, '0', '-1'));
    else if (type === 'set') values.push(await t.redis.smembers(key));
    else if (type === 'zset') values.push(await t.redis.zrange(key, '0', '-1'));
    else if (type === 'stream') values.push(await t.redis.xrange(key, '-', '+'));
  }
  return JSON.stringify(values).toLowerCase();
}

describe('POST /v1/orgs/:orgId/deletions: 202 and the erasure', () => {
  it('erases every trace of the name and email from every collection and from Redis', async () => {
    const { orgId, admin, manager } = await seedLifecycleOrg(t);
    const tag = newId('z').replace(/_/g, '');
    const firstName = `Zelda${tag}`;
    const lastName = `Quixote${tag}`;
    const email = `zelda.q.${tag}@example.test`;
    const user = userFixture(orgId, { email: `  ${email.toUpperCase()} `, firstName, lastName });
    const team = teamFixture(orgId, { leaderId: manager._id, memberIds: [manager._id, user._id] });
    const openOpp = opportunityFixture(orgId, user._id);
    const wonOpp = opportunityFixture(orgId, user._id, { status: 'won' });
    await insertFixtures(t.h.models, {
      users: [user],
      teams: [team],
      tokens: [tokenFixture(orgId, user._id), tokenFixture(orgId, user._id, { type: 'refresh' })],
      subscriptions: [
        subscriptionFixture(orgId, user._id),
        subscriptionFixture(orgId, user._id, { status: 'canceled' }),
      ],
      opportunities: [openOpp, wonOpp],
    });

    // A life with free-text reasons naming them: deactivated, reactivated, deactivated again,
    // through Idempotency-Keys so that responses are stored too.
    const said = `${firstName} ${lastName} <${email}>`;
    await deactivateAndWait(t, {
      orgId,
      userId: user._id,
      actorId: admin._id,
      reason: `first time: ${said}`,
      idempotencyKey: newId('idem'),
    });
    const back = await t.post(
      `/v1/orgs/${orgId}/reactivations`,
      { userId: user._id, actorId: admin._id, reason: `welcome back ${said}` },
      { idempotencyKey: newId('idem') },
    );
    expect(back.status).toBe(200);
    const run = await deactivateAndWait(t, {
      orgId,
      userId: user._id,
      actorId: admin._id,
      reason: `left again: ${said}`,
      idempotencyKey: newId('idem'),
    });
    // The personal data is there before the deletion (so the search below can find it).
    expect((await storeText()).users).toContain(email);
    expect((await storeText()).blocklist).toContain(email);
    expect((await storeText()).deactivations).toContain(lastName.toLowerCase());

    const res = await t.post(
      deletionsPath(orgId),
      { userId: user._id, actorId: admin._id, confirm: user._id },
      { key: t.keys.delete },
    );
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      user: { id: user._id, orgId, status: 'deleted', deactivationId: run._id },
      erasureJobId: `erase-${user._id}`,
    });
    expect(JSON.stringify(res.body).toLowerCase()).not.toContain(email);

    const tombstone = await erased(user._id);
    expect(tombstone).toMatchObject({
      _id: user._id,
      orgId,
      kind: 'employee',
      role: 'member',
      status: 'deleted',
      emailHash: sha256(email),
      deactivationId: run._id,
    });
    expect(tombstone.deletedAt).toBeInstanceOf(Date);
    for (const field of ['email', 'firstName', 'lastName']) {
      expect(tombstone).not.toHaveProperty(field);
    }
    expect(await t.h.models.tokens.countDocuments({ userId: user._id })).toBe(0);
    expect(await t.h.models.subscriptions.countDocuments({ userId: user._id })).toBe(0);
    const entry = await t.h.models.blocklist.findOne({ orgId }).lean();
    expect(entry).toMatchObject({ emailHash: sha256(email), deactivationId: run._id });
    expect(entry).not.toHaveProperty('email');
    const deletedEvent = await t.h.models.auditEvents
      .findOne({ subjectId: user._id, type: 'user.deleted' })
      .lean();
    expect(deletedEvent).toMatchObject({
      orgId,
      actorId: admin._id,
      data: { deactivationId: run._id },
    });
    // Opportunities: the open one went to the leader; the won one keeps only the owner id.
    expect(await t.h.models.opportunities.findById(openOpp._id).lean()).toMatchObject({
      ownerId: manager._id,
    });
    expect(await t.h.models.opportunities.findById(wonOpp._id).lean()).toMatchObject({
      ownerId: user._id,
    });

    // The search: nothing, anywhere.
    const text = await storeText();
    expect(Object.keys(text)).toEqual(
      expect.arrayContaining(['users', 'blocklist', 'auditEvents', 'deactivations', 'tokens']),
    );
    expect(Object.keys(text)).toEqual(expect.arrayContaining(['idempotencyRecords']));
    for (const needle of [email, firstName.toLowerCase(), lastName.toLowerCase()]) {
      const found = Object.entries(text)
        .filter(([, content]) => content.includes(needle))
        .map(([name]) => name);
      expect({ needle, found }).toEqual({ needle, found: [] });
    }
    const queued = await redisText();
    expect(queued).toContain(user._id.toLowerCase());
    for (const needle of [email, firstName.toLowerCase(), lastName.toLowerCase()]) {
      expect(queued.includes(needle)).toBe(false);
    }

    // The blocklist still works from the hash alone.
    const check = await t.post(
      `/v1/orgs/${orgId}/purchases/check`,
      { email: ` ${email.toUpperCase()}` },
      { key: t.keys.purchases },
    );
    expect(check.body).toEqual({ allowed: false, reactivated: false, reason: 'blocklisted' });

    // And the user never comes back.
    const again = await t.post(deletionsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
      confirm: user._id,
    });
    expect({ status: again.status, code: errorCode(again) }).toEqual({
      status: 409,
      code: 'user_deleted',
    });
    const reactivate = await t.post(`/v1/orgs/${orgId}/reactivations`, {
      userId: user._id,
      actorId: admin._id,
    });
    expect({ status: reactivate.status, code: errorCode(reactivate) }).toEqual({
      status: 409,
      code: 'user_deleted',
    });
    const deactivate = await t.post(`/v1/orgs/${orgId}/deactivations`, {
      userId: user._id,
      actorId: admin._id,
    });
    expect({ status: deactivate.status, code: errorCode(deactivate) }).toEqual({
      status: 409,
      code: 'user_deleted',
    });
  });

  it('clears every free-text reason about them or naming them: bulks, other runs, events, stored responses', async () => {
    const tag = newId('y').replace(/_/g, '');
    const firstName = `Yolanda${tag}`;
    const lastName = `Brightwater${tag}`;
    const email = `y.bright.${tag}@example.test`;
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [
      userFixture(org, { email, firstName, lastName }),
      ...[1, 2, 3, 4, 5].map(() => userFixture(org)),
    ]);
    const [person, a, b, c, d, e] = users as [User, User, User, User, User, User];

    /** Posts a bulk and waits until it and all its runs have completed. */
    const bulkAndWait = async (userIds: string[], reason: string): Promise<string> => {
      const res = await t.post(
        `/v1/orgs/${orgId}/bulk-deactivations`,
        { actorId: admin._id, userIds, reason },
        { idempotencyKey: newId('idem') },
      );
      expect(res.status).toBe(202);
      const bulkId = (res.body as { id: string }).id;
      await until(async () => {
        const bulk = await t.h.models.bulkDeactivations.findById(bulkId).lean();
        return bulk?.status === 'completed' ? true : undefined;
      }, `bulk ${bulkId}`);
      await until(
        async () =>
          (await t.h.models.deactivations.countDocuments({
            bulkId,
            status: { $ne: 'completed' },
          })) === 0
            ? true
            : undefined,
        `the runs of bulk ${bulkId}`,
      );
      return bulkId;
    };

    // A bulk of others whose reason names the person; one whose reason does not.
    const naming = await bulkAndWait([a._id, b._id], `Team of ${firstName} ${lastName} disbanded`);
    const generic = await bulkAndWait([c._id, d._id], 'Q3 reorganisation');
    // An event about someone else naming them (upper case), and another user's run whose stored
    // response names them by email.
    const back = await t.post(
      `/v1/orgs/${orgId}/reactivations`,
      { userId: a._id, actorId: admin._id, reason: `covers for ${lastName.toUpperCase()}.` },
      { idempotencyKey: newId('idem') },
    );
    expect(back.status).toBe(200);
    await deactivateAndWait(t, {
      orgId,
      userId: e._id,
      actorId: admin._id,
      reason: `replaces ${email.toUpperCase()}`,
      idempotencyKey: newId('idem'),
    });
    // Their own deactivation, as the only user of a bulk, with a reason that does not name them.
    const sole = await bulkAndWait([person._id], 'contract ended');
    const before = await storeText();
    expect(before.bulkDeactivations).toContain(lastName.toLowerCase());
    expect(before.auditEvents).toContain(lastName.toLowerCase());
    expect(before.idempotencyRecords).toContain(email);

    const res = await t.post(
      deletionsPath(orgId),
      { userId: person._id, actorId: admin._id, confirm: person._id },
      { key: t.keys.delete },
    );
    expect(res.status).toBe(202);
    await erased(person._id);

    // Every collection, every document: neither the email nor the names.
    const text = await storeText();
    expect(Object.keys(text)).toEqual(
      expect.arrayContaining(['bulkDeactivations', 'bulkItems', 'auditEvents', 'deactivations']),
    );
    for (const needle of [email, firstName.toLowerCase(), lastName.toLowerCase()]) {
      const found = Object.entries(text)
        .filter(([, content]) => content.includes(needle))
        .map(([name]) => name);
      expect({ needle, found }).toEqual({ needle, found: [] });
    }
    const reasonOf = async (bulkId: string): Promise<string | null | undefined> =>
      (await t.h.models.bulkDeactivations.findById(bulkId).lean())?.reason;
    const runReasons = async (userId: string): Promise<(string | null)[]> =>
      (await t.h.models.deactivations.find({ userId }).lean()).map((run) => run.reason);
    // Named or sole subject: cleared; the runs of the naming bulk with it.
    expect(await reasonOf(naming)).toBeNull();
    expect(await reasonOf(sole)).toBeNull();
    expect([...(await runReasons(a._id)), ...(await runReasons(b._id))]).toEqual([null, null]);
    expect(await runReasons(e._id)).toEqual([null]);
    expect(await runReasons(person._id)).toEqual([null]);
    const event = await t.h.models.auditEvents
      .findOne({ subjectId: a._id, type: 'user.reactivated' })
      .lean();
    expect(event?.data).not.toHaveProperty('reason');
    // A bulk of others that does not name them keeps its reason, and so do its runs.
    expect(await reasonOf(generic)).toBe('Q3 reorganisation');
    expect([...(await runReasons(c._id)), ...(await runReasons(d._id))]).toEqual([
      'Q3 reorganisation',
      'Q3 reorganisation',
    ]);
  });

  it('a repeated request retries a failed erasure job', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    // An erasure job that fails for good: the user is not deleted yet, so it refuses to erase.
    const jobId = await enqueueErasure(t.h.flows, { orgId, userId: user._id });
    await until(async () => {
      const node = await t.h.flows.getFlow({ id: jobId, queueName: 'erasures' });
      return (await node.job.getState()) === 'failed' ? true : undefined;
    }, 'the erasure job to fail');
    expect(await userInDb(user._id)).toHaveProperty('email', user.email);

    const res = await t.post(deletionsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
      confirm: user._id,
    });
    expect(res.status).toBe(202);
    expect(res.body.erasureJobId).toBe(jobId);
    const tombstone = await erased(user._id);
    expect(tombstone).not.toHaveProperty('email');
  });

  it('deletes once when a deletion and a reactivation race', async () => {
    const { orgId, admin, admin2, users } = await seedLifecycleOrg(t, (org) =>
      [1, 2, 3].map(() => userFixture(org)),
    );
    for (const user of users) {
      await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
      const [deletion, reactivation] = await Promise.all([
        t.post(deletionsPath(orgId), { userId: user._id, actorId: admin._id, confirm: user._id }),
        t.post(`/v1/orgs/${orgId}/reactivations`, { userId: user._id, actorId: admin2._id }),
      ]);
      const outcomes = await t.h.models.auditEvents
        .find({ subjectId: user._id, type: { $in: ['user.deleted', 'user.reactivated'] } })
        .lean();
      expect(outcomes).toHaveLength(1);
      if (outcomes[0]!.type === 'user.deleted') {
        expect(deletion.status).toBe(202);
        expect(reactivation.status).toBe(409);
        expect((await erased(user._id)).status).toBe('deleted');
      } else {
        expect(reactivation.status).toBe(200);
        expect({ status: deletion.status, code: errorCode(deletion) }).toEqual({
          status: 409,
          code: 'not_deactivated',
        });
        expect(await userInDb(user._id)).toMatchObject({ status: 'active', email: user.email });
      }
    }
  });
});

describe('POST /v1/orgs/:orgId/deletions: refusals', () => {
  it('answers 400 when confirm differs from userId or the body is invalid', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    const mismatch = await t.post(deletionsPath(orgId), {
      userId: user._id,
      actorId: admin._id,
      confirm: admin._id,
    });
    expect({ status: mismatch.status, code: errorCode(mismatch) }).toEqual({
      status: 400,
      code: 'validation_failed',
    });
    expect(
      (mismatch.body.error.details as { path: string[] }[]).map((i) => i.path.join('.')),
    ).toEqual(['body.confirm']);
    for (const body of [
      { userId: user._id, actorId: admin._id },
      { userId: user._id, actorId: admin._id, confirm: user._id, extra: true },
    ]) {
      const res = await t.post(deletionsPath(orgId), body);
      expect({ status: res.status, code: errorCode(res) }).toEqual({
        status: 400,
        code: 'validation_failed',
      });
    }
    expect(await userInDb(user._id)).toMatchObject({ status: 'inactive', email: user.email });
  });

  it('answers 401 without a key and 403 without the delete scope or the organization', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [userFixture(org)]);
    const user = users[0]!;
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    const body = { userId: user._id, actorId: admin._id, confirm: user._id };
    const anonymous = await request(t.server).post(deletionsPath(orgId)).send(body);
    expect(anonymous.status).toBe(401);
    for (const key of [t.keys.read, t.keys.write, t.keys.purchases]) {
      const res = await t.post(deletionsPath(orgId), body, { key });
      expect({ status: res.status, code: errorCode(res) }).toEqual({
        status: 403,
        code: 'forbidden',
      });
    }
    const otherOrgKey = (
      await createApiKey(t.h.models, { name: 'eraser', scopes: ['delete'], orgIds: ['org_x'] })
    ).key;
    expect((await t.post(deletionsPath(orgId), body, { key: otherOrgKey })).status).toBe(403);
    expect(await userInDb(user._id)).toMatchObject({ status: 'inactive', email: user.email });
  });

  it('answers 403 actor_not_allowed unless the actor is an active admin, and 404 for unknown ids (actor included)', async () => {
    const { orgId, admin, manager, users } = await seedLifecycleOrg(t, (org) => [
      userFixture(org),
      userFixture(org, { role: 'admin', status: 'inactive' }),
    ]);
    const [user, inactiveAdmin] = users as [User, User];
    await deactivateInStore(t, { orgId, userId: user._id, actorId: admin._id }, 'completed');
    for (const actorId of [manager._id, inactiveAdmin._id]) {
      const res = await t.post(deletionsPath(orgId), {
        userId: user._id,
        actorId,
        confirm: user._id,
      });
      expect({ status: res.status, code: errorCode(res) }).toEqual({
        status: 403,
        code: 'actor_not_allowed',
      });
    }
    const unknownActor = await t.post(deletionsPath(orgId), {
      userId: user._id,
      actorId: 'usr_nobody',
      confirm: user._id,
    });
    expect({ status: unknownActor.status, code: errorCode(unknownActor) }).toEqual({
      status: 404,
      code: 'not_found',
    });
    const unknownUser = await t.post(deletionsPath(orgId), {
      userId: 'usr_nobody',
      actorId: admin._id,
      confirm: 'usr_nobody',
    });
    expect({ status: unknownUser.status, code: errorCode(unknownUser) }).toEqual({
      status: 404,
      code: 'not_found',
    });
    const unknownOrg = await t.post(deletionsPath('org_nowhere'), {
      userId: user._id,
      actorId: admin._id,
      confirm: user._id,
    });
    expect(unknownOrg.status).toBe(404);
    expect(await userInDb(user._id)).toMatchObject({ status: 'inactive', email: user.email });
  });

  it('answers 409 not_deactivated for an active user and while the deactivation runs', async () => {
    const { orgId, admin, users } = await seedLifecycleOrg(t, (org) => [
      userFixture(org),
      userFixture(org),
      userFixture(org),
    ]);
    const [active, running, failed] = users as [User, User, User];
    const pending = await deactivateInStore(
      t,
      { orgId, userId: running._id, actorId: admin._id },
      'pending',
    );
    const failedRun = await deactivateInStore(
      t,
      { orgId, userId: failed._id, actorId: admin._id },
      'failed',
    );
    const expectations: [User, unknown][] = [
      [active, undefined],
      [running, { deactivationId: pending._id, runStatus: 'pending' }],
      [failed, { deactivationId: failedRun._id, runStatus: 'failed' }],
    ];
    for (const [user, details] of expectations) {
      const res = await t.post(deletionsPath(orgId), {
        userId: user._id,
        actorId: admin._id,
        confirm: user._id,
      });
      expect({ status: res.status, code: errorCode(res) }).toEqual({
        status: 409,
        code: 'not_deactivated',
      });
      expect(res.body.error.details).toEqual(details);
      expect(await userInDb(user._id)).toMatchObject({ email: user.email });
      expect(await userInDb(user._id)).not.toHaveProperty('deletedAt');
    }
    expect(await t.h.models.auditEvents.countDocuments({ orgId, type: 'user.deleted' })).toBe(0);
  });
});
