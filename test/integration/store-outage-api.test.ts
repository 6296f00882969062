import type { Server } from 'node:http';
import request, { type Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import { openApiHarness, type ApiHarness } from '../support/api-harness';
import { listen } from '../support/bulk-fixtures';
import { insertFixtures, orgFixture, userFixture } from '../../test-kit/factories';
import { eventually } from '../../test-kit/service-process';
import { startTcpProxy, type TcpProxy } from '../../test-kit/tcp-proxy';
import { mongoUrl } from '../support/test-env';

// README (Reliability, HTTP API): while the store is away the API answers 503
// `service_unavailable` in the contract's error shape, never 500, and writes nothing. The API
// reaches FerretDB through a TCP proxy (as the drills do), which the test cuts.

let proxy: TcpProxy;
let h: ApiHarness;
let server: Server;
let stopServer: () => Promise<void>;
let key: string;

beforeAll(async () => {
  const target = new URL(mongoUrl);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 27017));
  const viaProxy = new URL(mongoUrl);
  viaProxy.port = String(proxy.port);
  viaProxy.searchParams.set('directConnection', 'true');
  h = await openApiHarness('storeout', {}, { storeUrl: viaProxy.toString() });
  ({ server, close: stopServer } = await listen(h));
  key = (await createApiKey(h.models, { name: 'writer', scopes: ['*'], orgIds: ['*'] })).key;
});

afterAll(async () => {
  await proxy.restore().catch(() => undefined);
  await stopServer();
  await h.close();
  await proxy.close();
}, 30_000);

const storeAnswers = async (): Promise<boolean> => {
  try {
    await h.models.organizations.findOne({}).lean();
    return true;
  } catch {
    return false;
  }
};

function postDeactivation(orgId: string, body: object, idempotencyKey: string): Promise<Response> {
  return request(server)
    .post(`/v1/orgs/${orgId}/deactivations`)
    .set('Authorization', `Bearer ${key}`)
    .set('Idempotency-Key', idempotencyKey)
    .send(body);
}

describe('the store goes away under a running API', () => {
  it('answers a deactivation 503 service_unavailable in the contract shape, and writes nothing', async () => {
    const org = orgFixture();
    const admin = userFixture(org._id, { role: 'admin' });
    const member = userFixture(org._id);
    await insertFixtures(h.models, { organizations: [org], users: [admin, member] });
    const body = { userId: member._id, actorId: admin._id };

    await proxy.cut();
    let refused: Response;
    try {
      refused = await postDeactivation(org._id, body, 'outage-1');
    } finally {
      await proxy.restore();
    }

    expect(refused.status).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.headers['retry-after']).toBe('1');
    expect(Object.keys(refused.body as object)).toEqual(['error']);
    expect(refused.body.error).toEqual({
      code: 'service_unavailable',
      message: expect.any(String) as unknown,
    });

    await eventually(storeAnswers, 30_000, 'the store to answer through the proxy again');
    // Nothing was written: the user is still active, no run, no idempotency record.
    expect(await h.models.users.findById(member._id).lean()).toMatchObject({ status: 'active' });
    expect(await h.models.users.findById(member._id).lean()).not.toHaveProperty('deactivationId');
    expect(await h.models.deactivations.countDocuments({ orgId: org._id })).toBe(0);
    expect(await h.models.idempotencyRecords.countDocuments({})).toBe(0);

    // The 503 was worth retrying: the same request, same key, is accepted now.
    const retried = await postDeactivation(org._id, body, 'outage-1');
    expect(retried.status).toBe(202);
    expect(await h.models.users.findById(member._id).lean()).toMatchObject({
      status: 'inactive',
      deactivationId: (retried.body as { id: string }).id,
    });
  });
});
