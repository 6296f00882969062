import type { Server } from 'node:http';
import request from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { User } from '../../src/models/user.model';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { expectError, jsonClient, listen, type JsonClient } from '../support/bulk-fixtures';
import { insertFixtures, newId, orgFixture, userFixture } from '../../test-kit/factories';
import { acceptWithoutWorkers, openIdleProducer } from '../support/run-helpers';
import { runKeysCli, type CliOutcome } from '../support/keys-cli';

// Keys bound to an actor (`keys create --actor <userId>`): such a key acts only as that user;
// every route whose body names an actor refuses another one with 403 actor_mismatch.

let h: ApiHarness;
let server: Server;
let stopServer: () => Promise<void>;
let client: JsonClient;
let serviceKey: string;

beforeAll(async () => {
  h = await openApiHarness('boundactor');
  const listening = await listen(h);
  server = listening.server;
  stopServer = listening.close;
  client = jsonClient(listening.server, () => serviceKey);
  serviceKey = (await createApiKey(h.models, { name: 'service', scopes: ['*'], orgIds: ['*'] }))
    .key;
});

afterAll(async () => {
  await stopServer();
  await h.close();
});

interface Org {
  orgId: string;
  admin: User;
  admin2: User;
  /** A `*` key bound to `admin`. */
  boundKey: string;
}

/** An organization with two admins, and a `*` key bound to the first. */
async function seedOrg(
  extra: (orgId: string) => User[] = () => [],
): Promise<Org & { users: User[] }> {
  const org = orgFixture();
  const admin = userFixture(org._id, { role: 'admin' });
  const admin2 = userFixture(org._id, { role: 'admin' });
  const users = extra(org._id);
  await insertFixtures(h.models, { organizations: [org], users: [admin, admin2, ...users] });
  const boundKey = (
    await createApiKey(h.models, {
      name: 'bound',
      scopes: ['*'],
      orgIds: [org._id],
      actorId: admin._id,
    })
  ).key;
  return { orgId: org._id, admin, admin2, boundKey, users };
}

async function statusOf(userId: string): Promise<string | undefined> {
  return (await h.models.users.findById(userId).lean())?.status;
}

/** Makes the user inactive with a completed run, nothing queued. */
async function deactivatedInStore(org: Org, userId: string): Promise<void> {
  const runId = newId('run');
  const idle = openIdleProducer();
  await acceptWithoutWorkers(
    h.models,
    idle,
    { orgId: org.orgId, userId, actorId: org.admin._id, source: 'api', reason: null },
    new Date(),
    runId,
  ).finally(() => idle.close());
  await h.models.deactivations.updateOne({ _id: runId }, { $set: { status: 'completed' } });
}

describe('a key bound to an actor, over HTTP', () => {
  it('deactivations (and their dry run): another actor is 403 actor_mismatch, itself works', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId)]);
    const user = org.users[0]!;
    const path = `/v1/orgs/${org.orgId}/deactivations`;
    const asOther = { userId: user._id, actorId: org.admin2._id };
    const asSelf = { userId: user._id, actorId: org.admin._id };

    expectError(
      await client.post(`${path}?dryRun=true`, asOther, org.boundKey),
      403,
      'actor_mismatch',
    );
    expectError(await client.post(path, asOther, org.boundKey), 403, 'actor_mismatch');
    expect(await statusOf(user._id)).toBe('active');
    expect(await h.models.deactivations.countDocuments({ userId: user._id })).toBe(0);

    const dry = await client.post(`${path}?dryRun=true`, asSelf, org.boundKey);
    expect(dry.status).toBe(200);
    const accepted = await client.post(path, asSelf, org.boundKey);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ userId: user._id, actorId: org.admin._id });
    expect(await statusOf(user._id)).toBe('inactive');
  });

  it('refuses before the Idempotency-Key is recorded, so nothing is replayed later', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId)]);
    const user = org.users[0]!;
    const before = await h.models.idempotencyRecords.countDocuments({});
    const res = await client.post(
      `/v1/orgs/${org.orgId}/deactivations`,
      { userId: user._id, actorId: org.admin2._id },
      org.boundKey,
    );
    expectError(res, 403, 'actor_mismatch');
    const keyed = await request(server)
      .post(`/v1/orgs/${org.orgId}/deactivations`)
      .set('Authorization', `Bearer ${org.boundKey}`)
      .set('Idempotency-Key', newId('idem'))
      .send({ userId: user._id, actorId: org.admin2._id });
    expectError(keyed, 403, 'actor_mismatch');
    expect(await h.models.idempotencyRecords.countDocuments({})).toBe(before);
  });

  it('reactivations: another actor is 403 actor_mismatch, itself works', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId)]);
    const user = org.users[0]!;
    await deactivatedInStore(org, user._id);
    const path = `/v1/orgs/${org.orgId}/reactivations`;
    expectError(
      await client.post(path, { userId: user._id, actorId: org.admin2._id }, org.boundKey),
      403,
      'actor_mismatch',
    );
    expect(await statusOf(user._id)).toBe('inactive');
    const res = await client.post(path, { userId: user._id, actorId: org.admin._id }, org.boundKey);
    expect(res.status).toBe(200);
    expect(await statusOf(user._id)).toBe('active');
  });

  it('deletions: another actor is 403 actor_mismatch, itself works', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId)]);
    const user = org.users[0]!;
    await deactivatedInStore(org, user._id);
    const path = `/v1/orgs/${org.orgId}/deletions`;
    expectError(
      await client.post(
        path,
        { userId: user._id, actorId: org.admin2._id, confirm: user._id },
        org.boundKey,
      ),
      403,
      'actor_mismatch',
    );
    expect(await statusOf(user._id)).toBe('inactive');
    const res = await client.post(
      path,
      { userId: user._id, actorId: org.admin._id, confirm: user._id },
      org.boundKey,
    );
    expect(res.status).toBe(202);
    expect(await statusOf(user._id)).toBe('deleted');
  });

  it('bulk deactivations: another actor is 403 actor_mismatch, itself works', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId), userFixture(orgId)]);
    const path = `/v1/orgs/${org.orgId}/bulk-deactivations`;
    const userIds = org.users.map((user) => user._id);
    for (const dryRun of [true, false]) {
      expectError(
        await client.post(path, { actorId: org.admin2._id, userIds, dryRun }, org.boundKey),
        403,
        'actor_mismatch',
      );
    }
    expect(await h.models.bulkDeactivations.countDocuments({ orgId: org.orgId })).toBe(0);
    const res = await client.post(path, { actorId: org.admin._id, userIds }, org.boundKey);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ actorId: org.admin._id, matched: 2 });
  });

  it('reads and actor-less routes still work; a service key may name any actor', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId)]);
    const user = org.users[0]!;
    expect((await client.get(`/v1/orgs/${org.orgId}/users`, org.boundKey)).status).toBe(200);
    const check = await client.post(
      `/v1/orgs/${org.orgId}/purchases/check`,
      { email: 'someone@example.test' },
      org.boundKey,
    );
    expect(check.status).toBe(200);
    const res = await client.post(`/v1/orgs/${org.orgId}/deactivations?dryRun=true`, {
      userId: user._id,
      actorId: org.admin2._id,
    });
    expect(res.status).toBe(200);
  });

  it('refuses to bind a key to an unknown user or to a user outside its organizations', async () => {
    const org = await seedOrg();
    await expect(
      createApiKey(h.models, { name: 'x', scopes: ['*'], orgIds: ['*'], actorId: 'usr_nobody' }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      createApiKey(h.models, {
        name: 'x',
        scopes: ['*'],
        orgIds: ['org_elsewhere'],
        actorId: org.admin._id,
      }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(
      createApiKey(h.models, { name: 'x', scopes: ['*'], orgIds: ['*'], actorId: ' ' }),
    ).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('npm run keys -- create --actor', () => {
  const keysCli = (args: string[]): Promise<CliOutcome> => runKeysCli(h.store.dbName, args);

  it('prints the key alone on stdout and says on stderr what the key may do; list shows the actor', async () => {
    const org = await seedOrg((orgId) => [userFixture(orgId)]);
    const bound = await keysCli([
      'create',
      '--name',
      'console',
      '--scopes',
      '*',
      '--orgs',
      org.orgId,
      '--actor',
      org.admin._id,
    ]);
    expect(bound.code).toBe(0);
    expect(bound.stdout).toMatch(/^\S+\n$/);
    expect(bound.stderr).toContain(`bound to actor ${org.admin._id}`);
    expect(bound.stderr).toContain('actor_mismatch');
    const boundKey = bound.stdout.trim();

    const service = await keysCli([
      'create',
      '--name',
      'billing',
      '--scopes',
      'write',
      '--orgs',
      '*',
    ]);
    expect(service.code).toBe(0);
    expect(service.stdout).toMatch(/^\S+\n$/);
    expect(service.stderr).toContain('service key');
    expect(service.stderr).toContain('any actor');

    const unknown = await keysCli([
      'create',
      '--name',
      'typo',
      '--scopes',
      '*',
      '--orgs',
      '*',
      '--actor',
      'usr_nobody',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('usr_nobody');

    const listed = await keysCli(['list']);
    const lines = listed.stdout.split('\n');
    expect(lines.find((line) => line.includes('\tconsole\t'))).toContain(`actor=${org.admin._id}`);
    expect(lines.find((line) => line.includes('\tbilling\t'))).toContain('actor=(service key)');

    // The key the command printed is the bound one.
    const user = org.users[0]!;
    expectError(
      await client.post(
        `/v1/orgs/${org.orgId}/deactivations?dryRun=true`,
        { userId: user._id, actorId: org.admin2._id },
        boundKey,
      ),
      403,
      'actor_mismatch',
    );
    const own = await client.post(
      `/v1/orgs/${org.orgId}/deactivations?dryRun=true`,
      { userId: user._id, actorId: org.admin._id },
      boundKey,
    );
    expect(own.status).toBe(200);
  }, 60_000);
});
