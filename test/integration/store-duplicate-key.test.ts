import { hashEmail } from '../../src/domain/email';
import type { BlocklistEntry } from '../../src/models/blocklist-entry.model';
import { insertIgnoringDuplicates, isDuplicateKey } from '../../src/store/duplicate-key';
import { insertFixtures, newId, orgFixture, userFixture } from '../../test-kit/factories';
import { openTestStore, type TestStore } from '../support/test-env';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore('dupkey');
});
afterAll(async () => {
  await store.close();
});

/** The error `write` rejects with. */
async function errorOf(write: () => Promise<unknown>): Promise<unknown> {
  try {
    await write();
  } catch (error) {
    return error;
  }
  throw new Error('the write succeeded');
}

function blocklistEntry(orgId: string, email: string): BlocklistEntry {
  return {
    _id: newId('blk'),
    orgId,
    emailHash: hashEmail(email),
    email,
    reason: 'user_deactivated',
    createdAt: new Date(),
    createdBy: 'usr_admin',
    deactivationId: newId('run'),
  };
}

describe('insertIgnoringDuplicates on the real store', () => {
  it('inserts the new documents and reports the positions of those already there', async () => {
    const { models } = store;
    const org = orgFixture();
    const existing = [userFixture(org._id), userFixture(org._id)];
    await insertFixtures(models, { users: existing });
    const fresh = [userFixture(org._id), userFixture(org._id)];
    const batch = [fresh[0]!, { ...existing[0]!, firstName: 'Changed' }, fresh[1]!, existing[1]!];

    const taken = await insertIgnoringDuplicates(models.users, batch);

    expect([...taken].sort()).toEqual([1, 3]);
    const stored = await models.users.find({ orgId: org._id }).sort({ _id: 1 }).lean();
    expect(stored.map((user) => user._id).sort()).toEqual(
      [...existing, ...fresh].map((user) => user._id).sort(),
    );
    // A duplicate is skipped, not written over.
    expect(stored.find((user) => user._id === existing[0]!._id)?.firstName).toBe(
      existing[0]!.firstName,
    );
  });

  it('reports a conflict on a secondary unique index the same way', async () => {
    const { models } = store;
    const orgId = newId('org');
    const first = blocklistEntry(orgId, 'someone@example.test');
    await models.blocklist.create(first);
    const again = { ...blocklistEntry(orgId, 'someone@example.test'), _id: newId('blk') };
    const other = blocklistEntry(orgId, 'other@example.test');

    expect([...(await insertIgnoringDuplicates(models.blocklist, [again, other]))]).toEqual([0]);
    expect(await models.blocklist.countDocuments({ orgId })).toBe(2);
  });

  it('repeats harmlessly, and does nothing for an empty batch', async () => {
    const { models } = store;
    const org = orgFixture();
    const users = [userFixture(org._id), userFixture(org._id)];
    expect(await insertIgnoringDuplicates(models.users, users)).toEqual(new Set());
    expect(await insertIgnoringDuplicates(models.users, users)).toEqual(new Set([0, 1]));
    expect(await insertIgnoringDuplicates(models.users, [])).toEqual(new Set());
    expect(await models.users.countDocuments({ orgId: org._id })).toBe(2);
  });

  it('throws a failure that is not a duplicate, also beside duplicates', async () => {
    const { models } = store;
    const org = orgFixture();
    const existing = userFixture(org._id);
    await insertFixtures(models, { users: [existing] });
    // The store refuses a field name starting with `$` (write error code 2).
    const bad = { ...userFixture(org._id), $where: 'not a field name' };

    for (const batch of [[bad], [existing, bad]]) {
      const error = await errorOf(() => insertIgnoringDuplicates(models.users, batch));
      expect(error).toMatchObject({ writeErrors: expect.arrayContaining([expect.anything()]) });
      expect(isDuplicateKey(error)).toBe(false);
    }
  });
});

describe('isDuplicateKey on what the real store answers', () => {
  it('recognises a duplicate from every kind of insert the service uses', async () => {
    const { models } = store;
    const org = orgFixture();
    const user = userFixture(org._id);
    await insertFixtures(models, { users: [user] });

    const shapes = {
      create: await errorOf(() => models.users.create(user)),
      insertMany: await errorOf(() => models.users.insertMany([user])),
      insertManyUnordered: await errorOf(() =>
        models.users.insertMany([user, userFixture(org._id)], { ordered: false }),
      ),
      insertOne: await errorOf(() => models.users.collection.insertOne(user as never)),
    };
    expect(
      Object.fromEntries(Object.entries(shapes).map(([k, e]) => [k, isDuplicateKey(e)])),
    ).toEqual({ create: true, insertMany: true, insertManyUnordered: true, insertOne: true });
  });

  it('recognises a duplicate upsert on a unique index', async () => {
    const { models } = store;
    const orgId = newId('org');
    const entry = blocklistEntry(orgId, 'upsert@example.test');
    await models.blocklist.create(entry);
    // Another _id for the same (orgId, emailHash): what a concurrent upsert that lost meets.
    const error = await errorOf(() =>
      models.blocklist.updateOne(
        { _id: newId('blk') },
        { $setOnInsert: { ...entry, _id: undefined } },
        { upsert: true },
      ),
    );
    expect(isDuplicateKey(error)).toBe(true);
  });
});
