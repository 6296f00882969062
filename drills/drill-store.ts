import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { createApiKey } from '../src/auth/api-key-repository';
import { connectMongo } from '../src/infra/mongo-connection';
import { createModels, ensureIndexes, type Models } from '../src/models/create-models';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../test-kit/factories';

// A drill's seeding: an organization of departing users in a database of its own.

/** One departing user of a drill and what they own. */
export interface DrillUser {
  userId: string;
  email: string;
}

/** A drill's own organization in its own database on a store. */
export interface DrillStore {
  mongo: Connection;
  models: Models;
  dbName: string;
  orgId: string;
  actorId: string;
  leaderId: string;
  apiKey: string;
  users: DrillUser[];
  close: () => Promise<void>;
}

const teamSize = 5;

/**
 * Seeds an organization with `runs` departing members, each with 3 tokens, 1 subscription,
 * 2 open opportunities, in teams of five led by the leader (so every step has work).
 * `brokenEvery` leaves every n-th user without an email: their blocklist step fails for good.
 */
export async function seedDrillStore(
  mongoUrl: string,
  runs: number,
  options: { brokenEvery?: number } = {},
): Promise<DrillStore> {
  const dbName = `drill_${randomBytes(3).toString('hex')}`;
  const mongo = await connectMongo(mongoUrl, { dbName });
  const models = createModels(mongo);
  await ensureIndexes(models);
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  const secondAdmin = userFixture(org._id, { role: 'admin' });
  const leader = userFixture(org._id, { role: 'manager' });
  await insertFixtures(models, { organizations: [org], users: [actor, secondAdmin, leader] });
  const users: DrillUser[] = [];
  for (let start = 0; start < runs; start += 200) {
    const batch = Array.from({ length: Math.min(200, runs - start) }, (_, offset) => {
      const index = start + offset;
      const broken = options.brokenEvery !== undefined && index % options.brokenEvery === 0;
      const user = userFixture(org._id);
      return { user, broken, email: user.email ?? '' };
    });
    await insertFixtures(models, {
      users: batch.map(({ user, broken }) => (broken ? { ...user, email: null } : user)),
      // Teams of five: teammates leave at the same time, so their runs write one team at once.
      teams: Array.from({ length: Math.ceil(batch.length / teamSize) }, (_, team) =>
        teamFixture(org._id, {
          leaderId: leader._id,
          memberIds: batch
            .slice(team * teamSize, (team + 1) * teamSize)
            .map(({ user }) => user._id),
        }),
      ),
      tokens: batch.flatMap(({ user }) => [0, 1, 2].map(() => tokenFixture(org._id, user._id))),
      subscriptions: batch.map(({ user }) => subscriptionFixture(org._id, user._id)),
      opportunities: batch.flatMap(({ user }) =>
        [0, 1].map(() => opportunityFixture(org._id, user._id)),
      ),
    });
    users.push(...batch.map(({ user, email }) => ({ userId: user._id, email })));
  }
  const { key } = await createApiKey(models, { name: 'drill', scopes: ['*'], orgIds: [org._id] });
  return {
    mongo,
    models,
    dbName,
    orgId: org._id,
    actorId: actor._id,
    leaderId: leader._id,
    apiKey: key,
    users,
    close: async () => {
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}
