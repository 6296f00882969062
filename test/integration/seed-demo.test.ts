import { findActiveApiKey } from '../../src/auth/api-key-repository';
import { demoOrgId, seedDemo } from '../../src/demo/seed-demo';
import { openTestStore, type TestStore } from '../support/test-env';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore('seed');
});
afterAll(async () => {
  await store.close();
});

describe('demo seed', () => {
  it('creates every kind of demo data and a working key for the organization, once', async () => {
    const seeded = await seedDemo(store.models);
    expect(seeded).not.toBeNull();
    const { models } = store;
    expect(await models.users.distinct('role', { orgId: demoOrgId })).toEqual(
      expect.arrayContaining(['admin', 'manager', 'member']),
    );
    expect(
      await models.users.countDocuments({ orgId: demoOrgId, kind: 'customer' }),
    ).toBeGreaterThan(0);
    const teams = await models.teams.find({ orgId: demoOrgId }).lean();
    expect(teams.length).toBeGreaterThanOrEqual(2);
    expect(teams.every((team) => team.leaderId !== null)).toBe(true);
    expect(
      await models.opportunities.countDocuments({ orgId: demoOrgId, status: 'open' }),
    ).toBeGreaterThan(0);
    expect(await models.subscriptions.countDocuments({ orgId: demoOrgId })).toBe(
      seeded?.subscriptions,
    );
    expect(await models.tokens.countDocuments({ orgId: demoOrgId })).toBe(seeded?.tokens);
    const key = await findActiveApiKey(models, seeded?.apiKey ?? '');
    expect(key?.orgIds).toEqual([demoOrgId]);

    expect(await seedDemo(store.models)).toBeNull();
    expect(await models.users.countDocuments({ orgId: demoOrgId })).toBe(seeded?.users);
  });
});
