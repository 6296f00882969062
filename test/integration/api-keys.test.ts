import {
  createApiKey,
  findActiveApiKey,
  listApiKeys,
  revokeApiKey,
} from '../../src/auth/api-key-repository';
import { hashApiKey } from '../../src/auth/api-key-secret';
import { openTestStore, type TestStore } from '../support/test-env';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore('apikeys');
});
afterAll(async () => {
  await store.close();
});

describe('API keys on the real store', () => {
  it('stores only the hash and finds the key by it', async () => {
    const { id, key } = await createApiKey(store.models, {
      name: 'billing',
      scopes: ['read', 'purchases'],
      orgIds: ['org_1'],
    });
    const stored = await store.mongo.db!.collection('apiKeys').findOne({ _id: id as never });
    expect(stored?.keyHash).toBe(hashApiKey(key));
    expect(JSON.stringify(stored)).not.toContain(key);
    expect(await findActiveApiKey(store.models, key)).toMatchObject({
      _id: id,
      scopes: ['read', 'purchases'],
      orgIds: ['org_1'],
    });
    expect(await findActiveApiKey(store.models, `${key}x`)).toBeNull();
  });

  it('refuses unknown scopes and keys without organizations', async () => {
    await expect(
      createApiKey(store.models, { name: 'x', scopes: ['root'], orgIds: ['*'] }),
    ).rejects.toThrow(/root/);
    await expect(
      createApiKey(store.models, { name: 'x', scopes: ['read'], orgIds: [] }),
    ).rejects.toThrow(/--orgs/);
  });

  it('revokes a key so it no longer authenticates, and lists without hashes', async () => {
    const { id, key } = await createApiKey(store.models, {
      name: 'ops',
      scopes: ['*'],
      orgIds: ['*'],
    });
    expect(await revokeApiKey(store.models, id)).toBe(true);
    expect(await revokeApiKey(store.models, id)).toBe(false);
    expect(await findActiveApiKey(store.models, key)).toBeNull();
    const listed = await listApiKeys(store.models);
    const revoked = listed.find((entry) => entry._id === id);
    expect(revoked?.revokedAt).toBeInstanceOf(Date);
    expect(revoked).not.toHaveProperty('keyHash');
  });
});
