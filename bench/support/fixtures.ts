import { createApiKey } from '../../src/auth/api-key-repository';
import type { Models } from '../../src/models/create-models';
import {
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';

/** How much one departing user owns. */
export interface UserSize {
  tokens: number;
  subscriptions: number;
  opportunities: number;
  teams: number;
}

export const smallUser: UserSize = { tokens: 10, subscriptions: 2, opportunities: 10, teams: 1 };
export const largeUser: UserSize = { tokens: 100, subscriptions: 20, opportunities: 200, teams: 5 };

/** An organization with an admin (the actor) and an active manager who leads every team. */
export interface BenchOrg {
  orgId: string;
  adminId: string;
  leaderId: string;
}

/** A seeded user who is to leave, with what the floor needs to issue the same writes. */
export interface DepartingUser {
  userId: string;
  email: string;
  teamIds: string[];
  size: UserSize;
}

async function insertInSlices(
  collection: { insertMany: (docs: never[], options: { ordered: boolean }) => Promise<unknown> },
  docs: object[],
): Promise<void> {
  for (let start = 0; start < docs.length; start += 1_000) {
    await collection.insertMany(docs.slice(start, start + 1_000) as never[], { ordered: false });
  }
}

export async function seedOrg(models: Models, orgId: string): Promise<BenchOrg> {
  const org = orgFixture({ _id: orgId, name: 'Bench' });
  const admin = userFixture(orgId, { role: 'admin' });
  const leader = userFixture(orgId, { role: 'manager' });
  await models.organizations.collection.insertOne(org as never);
  await models.users.collection.insertMany([admin, leader] as never[]);
  return { orgId, adminId: admin._id, leaderId: leader._id };
}

/**
 * Seeds `count` employees who each own `size` (tokens, active subscriptions, open opportunities,
 * teams led by the organization's leader), with the driver: fixtures are not what is measured.
 * Each user has teams of their own, so no two runs write the same team document.
 */
export async function seedDepartingUsers(
  models: Models,
  org: BenchOrg,
  count: number,
  size: UserSize,
): Promise<DepartingUser[]> {
  const departing: DepartingUser[] = [];
  const users: object[] = [];
  const teams: object[] = [];
  const tokens: object[] = [];
  const subscriptions: object[] = [];
  const opportunities: object[] = [];
  const now = Date.now();
  for (let index = 0; index < count; index += 1) {
    const user = userFixture(org.orgId);
    users.push(user);
    const userTeams = Array.from({ length: size.teams }, (_, team) =>
      teamFixture(org.orgId, {
        name: `Team ${team}`,
        leaderId: org.leaderId,
        memberIds: [user._id, org.leaderId],
        createdAt: new Date(now - (size.teams - team) * 1000),
      }),
    );
    teams.push(...userTeams);
    for (let i = 0; i < size.tokens; i += 1) {
      tokens.push(
        tokenFixture(org.orgId, user._id, {
          type: (['session', 'refresh', 'api_key'] as const)[i % 3],
        }),
      );
    }
    for (let i = 0; i < size.subscriptions; i += 1) {
      subscriptions.push(
        subscriptionFixture(org.orgId, user._id, {
          status: (['active', 'trialing', 'past_due'] as const)[i % 3],
        }),
      );
    }
    for (let i = 0; i < size.opportunities; i += 1) {
      opportunities.push(opportunityFixture(org.orgId, user._id, { title: `Deal ${i}` }));
    }
    departing.push({
      userId: user._id,
      email: user.email ?? '',
      teamIds: userTeams.map((team) => team._id),
      size,
    });
  }
  await insertInSlices(models.users.collection, users);
  await insertInSlices(models.teams.collection, teams);
  await insertInSlices(models.tokens.collection, tokens);
  await insertInSlices(models.subscriptions.collection, subscriptions);
  await insertInSlices(models.opportunities.collection, opportunities);
  return departing;
}

/** An all-scopes API key for the bench's organization; returns the secret. */
export async function benchApiKey(models: Models, orgId: string): Promise<string> {
  const { key } = await createApiKey(models, { name: 'bench', scopes: ['*'], orgIds: [orgId] });
  return key;
}
