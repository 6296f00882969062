import { configureApiKeyCache } from '../../src/auth/api-key-cache';
import { createApiKey, findActiveApiKey, revokeApiKey } from '../../src/auth/api-key-repository';
import { openTestStore, type TestStore } from '../support/test-env';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore('apikeycache');
});
afterAll(async () => {
  configureApiKeyCache(store.models.apiKeys, 0);
  await store.close();
});

/** What `keys revoke` in another process does: the store changes, this process is not told. */
async function revokeElsewhere(id: string): Promise<void> {
  await store.models.apiKeys.updateOne({ _id: id }, { $set: { revokedAt: new Date() } });
}

describe('the API key cache', () => {
  it('trusts a found key for its TTL, then reads the store again (revocation within the bound)', async () => {
    configureApiKeyCache(store.models.apiKeys, 1_000);
    const { id, key } = await createApiKey(store.models, {
      name: 'cached',
      scopes: ['read'],
      orgIds: ['org_1'],
    });
    const t0 = 1_000_000;
    expect(await findActiveApiKey(store.models, key, t0)).toMatchObject({ _id: id });
    await revokeElsewhere(id);
    // Within the bound the key is still trusted: no store read.
    expect(await findActiveApiKey(store.models, key, t0 + 999)).toMatchObject({ _id: id });
    // At the bound the store is asked again and says revoked.
    expect(await findActiveApiKey(store.models, key, t0 + 1_000)).toBeNull();
    expect(await findActiveApiKey(store.models, key, t0 + 1_001)).toBeNull();
  });

  it('forgets a key revoked through the same models at once', async () => {
    configureApiKeyCache(store.models.apiKeys, 60_000);
    const { id, key } = await createApiKey(store.models, {
      name: 'revoked here',
      scopes: ['read'],
      orgIds: ['org_1'],
    });
    const t0 = 2_000_000;
    expect(await findActiveApiKey(store.models, key, t0)).toMatchObject({ _id: id });
    expect(await revokeApiKey(store.models, id)).toBe(true);
    expect(await findActiveApiKey(store.models, key, t0 + 1)).toBeNull();
  });

  it('keeps no unknown key, and nothing when turned off', async () => {
    configureApiKeyCache(store.models.apiKeys, 60_000);
    const t0 = 3_000_000;
    expect(await findActiveApiKey(store.models, 'ofb_not_a_key', t0)).toBeNull();
    const { id, key } = await createApiKey(store.models, {
      name: 'uncached',
      scopes: ['read'],
      orgIds: ['org_1'],
    });
    configureApiKeyCache(store.models.apiKeys, 0);
    expect(await findActiveApiKey(store.models, key, t0)).toMatchObject({ _id: id });
    await revokeElsewhere(id);
    expect(await findActiveApiKey(store.models, key, t0 + 1)).toBeNull();
  });
});
