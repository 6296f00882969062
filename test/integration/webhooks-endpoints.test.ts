import request from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import { openSecret } from '../../src/webhooks/secret-box';
import { orgFixture, insertFixtures } from '../../test-kit/factories';
import {
  openWebhookHarness,
  webhookTestEnv,
  type WebhookHarness,
} from '../support/webhook-harness';

let t: WebhookHarness;
let bare: WebhookHarness;
const env = webhookTestEnv();
const org = orgFixture();
const path = `/v1/orgs/${org._id}/webhooks`;

beforeAll(async () => {
  t = await openWebhookHarness('wh-endpoints', env, { workers: false });
  // Another app without SECRETS_KEY nor allowed addresses, on its own database.
  bare = await openWebhookHarness(
    'wh-bare',
    { WEBHOOK_RETRY_SCHEDULE_MS: '50' },
    { workers: false },
  );
  await insertFixtures(t.h.models, { organizations: [org] });
  await insertFixtures(bare.h.models, { organizations: [org] });
});

afterAll(async () => {
  await t.close();
  await bare.close();
});

const hook = (url = 'http://127.0.0.1:9/hook') => ({
  url,
  events: ['deactivation.completed', 'user.deleted'],
  description: 'billing',
});

describe('webhook endpoints over HTTP', () => {
  it('creates an endpoint, shows its secret once, and stores it encrypted', async () => {
    const created = await t.call('post', path, hook());
    expect(created.status).toBe(201);
    const body = created.body as { id: string; secret: string; enabled: boolean; events: string[] };
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(body).toMatchObject({
      enabled: true,
      events: ['deactivation.completed', 'user.deleted'],
    });
    expect(created.headers.location).toBe(`${path}/${body.id}`);

    const one = await t.call('get', `${path}/${body.id}`);
    const list = await t.call('get', path);
    expect(one.status).toBe(200);
    expect(JSON.stringify(one.body)).not.toContain(body.secret);
    expect(JSON.stringify(list.body)).not.toContain('whsec_');
    expect(one.body).not.toHaveProperty('secret');

    const raw = await t.h.store.mongo
      .collection('webhookEndpoints')
      .findOne({ _id: body.id as never });
    const rawText = JSON.stringify(raw);
    expect(rawText).not.toContain(body.secret);
    expect(rawText).not.toContain(body.secret.slice('whsec_'.length));
    const sealed = (raw as unknown as { secrets: { sealed: string }[] }).secrets[0]?.sealed ?? '';
    expect(sealed).toMatch(/^v1\./);
    expect(openSecret(t.h.config.webhooks.secretsKey!, sealed, body.id)).toBe(body.secret);
    // Bound to its endpoint: the same ciphertext does not open as another's.
    expect(() => openSecret(t.h.config.webhooks.secretsKey!, sealed, 'whe_other')).toThrow();
  });

  it('updates, rotates, lists and deletes, each audited', async () => {
    const { id } = (await t.call('post', path, hook())).body as { id: string };
    const patched = await t.call('patch', `${path}/${id}`, {
      events: ['sweep.held'],
      enabled: false,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      events: ['sweep.held'],
      enabled: false,
      disabledReason: 'api',
    });
    const enabled = await t.call('patch', `${path}/${id}`, { enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, disabledReason: null });
    expect((await t.call('patch', `${path}/${id}`, {})).status).toBe(400);

    const rotated = await t.call('post', `${path}/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const { secret, previousSecretExpiresAt } = rotated.body as {
      secret: string;
      previousSecretExpiresAt: string;
    };
    expect(secret).toMatch(/^whsec_/);
    const overlap = new Date(previousSecretExpiresAt).getTime() - Date.now();
    expect(overlap).toBeGreaterThan(23.9 * 3600_000);
    expect(overlap).toBeLessThanOrEqual(24 * 3600_000);
    const stored = await t.h.models.webhookEndpoints.findById(id).lean();
    expect(stored?.secrets.map((s) => s.expiresAt === null)).toEqual([true, false]);

    expect((await t.call('delete', `${path}/${id}`)).status).toBe(204);
    expect((await t.call('get', `${path}/${id}`)).status).toBe(404);
    const types = (await t.h.models.auditEvents.find({ subjectId: id }).lean()).map((e) => e.type);
    expect(types.sort()).toEqual([
      'webhook.endpoint_created',
      'webhook.endpoint_deleted',
      'webhook.endpoint_updated',
      'webhook.endpoint_updated',
      'webhook.secret_rotated',
    ]);
  });

  it('needs the admin scope and the organization', async () => {
    const read = await createApiKey(t.h.models, {
      name: 'r',
      scopes: ['read', 'write'],
      orgIds: ['*'],
    });
    const res = await request(t.server).get(path).set('Authorization', `Bearer ${read.key}`);
    expect(res.status).toBe(403);
    expect((await t.call('get', '/v1/orgs/org_nope/webhooks')).status).toBe(404);
  });

  it('refuses to create a webhook without SECRETS_KEY, naming the variable', async () => {
    const res = await bare.call('post', path, hook('https://93.184.216.34/hook'));
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: { code: 'webhooks_not_configured' } });
    expect((res.body as { error: { message: string } }).error.message).toContain('SECRETS_KEY');
  });

  it('refuses URLs that are not https to public addresses at creation', async () => {
    const withoutAllowance = await openWebhookHarness(
      'wh-ssrf',
      webhookTestEnv({ WEBHOOK_ALLOWED_ADDRESSES: '' }),
      { workers: false },
    );
    try {
      await insertFixtures(withoutAllowance.h.models, { organizations: [org] });
      for (const url of [
        'https://127.0.0.1/hook',
        'https://localhost/hook',
        'https://10.1.2.3/hook',
        'https://192.168.0.10/hook',
        'https://169.254.169.254/latest/meta-data',
        'https://[::1]/hook',
        'https://[::ffff:127.0.0.1]/hook',
        'http://127.0.0.1/hook',
        'http://93.184.216.34/hook',
        'ftp://93.184.216.34/hook',
        'https://user:pass@93.184.216.34/hook',
        'not a url',
      ]) {
        const res = await withoutAllowance.call('post', path, hook(url));
        expect([url, res.status, (res.body as { error?: { code: string } }).error?.code]).toEqual([
          url,
          400,
          'url_not_allowed',
        ]);
      }
      const ok = await withoutAllowance.call('post', path, hook('https://93.184.216.34/hook'));
      expect(ok.status).toBe(201);
      // And again when the URL changes.
      const { id } = ok.body as { id: string };
      const moved = await withoutAllowance.call('patch', `${path}/${id}`, {
        url: 'https://127.0.0.1/x',
      });
      expect(moved.status).toBe(400);
    } finally {
      await withoutAllowance.close();
    }
  });
  it('pages the delivery log newest first, ties by id, with a status filter', async () => {
    const created = await t.call('post', path, hook());
    const { id } = created.body as { id: string };
    const at = new Date('2026-01-02T03:04:05.000Z');
    const deliveries = [0, 1, 2, 3, 4].map((i) => ({
      _id: `dlv_page_${i}`,
      orgId: org._id,
      endpointId: id,
      eventId: `deactivation.completed:run_${i}`,
      eventType: 'deactivation.completed' as const,
      status: i % 2 === 0 ? ('delivered' as const) : ('failed' as const),
      attempts: 1,
      lastStatusCode: null,
      lastError: null,
      nextAttemptAt: null,
      queuedAt: null,
      // 2 and 3 share a time and fall on two pages: the id breaks the tie.
      createdAt: new Date(at.getTime() + ([0, 1, 2, 2, 4][i] ?? 0) * 1000),
      updatedAt: at,
      deliveredAt: null,
    }));
    await t.h.models.webhookDeliveries.insertMany(deliveries);
    const seen = async (query: string): Promise<string[]> => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const suffix: string = cursor === null ? '' : `&cursor=${cursor}`;
        const res = await t.call('get', `${path}/${id}/deliveries?limit=2${query}${suffix}`);
        expect(res.status).toBe(200);
        const body = res.body as { items: { id: string }[]; nextCursor: string | null };
        ids.push(...body.items.map((item) => item.id));
        cursor = body.nextCursor;
      } while (cursor !== null);
      return ids;
    };
    expect(await seen('')).toEqual([
      'dlv_page_4',
      'dlv_page_3',
      'dlv_page_2',
      'dlv_page_1',
      'dlv_page_0',
    ]);
    expect(await seen('&status=failed')).toEqual(['dlv_page_3', 'dlv_page_1']);
  });
});
