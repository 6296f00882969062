import { createApiKey } from '../auth/api-key-repository';
import type { Model } from 'mongoose';
import type { Models } from '../models/create-models';
import type { UserKind, UserRole } from '../models/user.model';
import { isDuplicateKey } from '../store/duplicate-key';

/** The demo organization's id. */
export const demoOrgId = 'org_demo';

const day = 24 * 60 * 60 * 1000;

interface DemoPerson {
  id: string;
  kind: UserKind;
  role: UserRole;
  firstName: string;
  lastName: string;
  lastLoginDaysAgo: number | null;
}

const people: DemoPerson[] = [
  {
    id: 'usr_ada',
    kind: 'employee',
    role: 'admin',
    firstName: 'Ada',
    lastName: 'Lovelace',
    lastLoginDaysAgo: 1,
  },
  {
    id: 'usr_grace',
    kind: 'employee',
    role: 'admin',
    firstName: 'Grace',
    lastName: 'Hopper',
    lastLoginDaysAgo: 3,
  },
  {
    id: 'usr_alan',
    kind: 'employee',
    role: 'manager',
    firstName: 'Alan',
    lastName: 'Turing',
    lastLoginDaysAgo: 2,
  },
  {
    id: 'usr_katherine',
    kind: 'employee',
    role: 'manager',
    firstName: 'Katherine',
    lastName: 'Johnson',
    lastLoginDaysAgo: 40,
  },
  {
    id: 'usr_edsger',
    kind: 'employee',
    role: 'member',
    firstName: 'Edsger',
    lastName: 'Dijkstra',
    lastLoginDaysAgo: 5,
  },
  {
    id: 'usr_barbara',
    kind: 'employee',
    role: 'member',
    firstName: 'Barbara',
    lastName: 'Liskov',
    lastLoginDaysAgo: 120,
  },
  {
    id: 'usr_donald',
    kind: 'employee',
    role: 'member',
    firstName: 'Donald',
    lastName: 'Knuth',
    lastLoginDaysAgo: null,
  },
  {
    id: 'usr_margaret',
    kind: 'employee',
    role: 'member',
    firstName: 'Margaret',
    lastName: 'Hamilton',
    lastLoginDaysAgo: 9,
  },
  {
    id: 'usr_linus',
    kind: 'customer',
    role: 'member',
    firstName: 'Linus',
    lastName: 'Customer',
    lastLoginDaysAgo: 15,
  },
  {
    id: 'usr_tim',
    kind: 'customer',
    role: 'member',
    firstName: 'Tim',
    lastName: 'Buyer',
    lastLoginDaysAgo: 200,
  },
  {
    id: 'usr_frances',
    kind: 'customer',
    role: 'member',
    firstName: 'Frances',
    lastName: 'Client',
    lastLoginDaysAgo: null,
  },
];

/** Inserts `docs`, skipping those already there (a seed cut short and run again). */
async function insertMissing<T>(model: Model<T>, docs: object[]): Promise<void> {
  try {
    await model.insertMany(docs, { ordered: false });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

/** What {@link seedDemo} created; `apiKey` is shown once and stored only as a hash. */
export interface DemoSeed {
  orgId: string;
  users: number;
  teams: number;
  opportunities: number;
  subscriptions: number;
  tokens: number;
  apiKey: string | null;
}

/** Dates relative to the seed's `now`. */
type DaysAgo = (days: number) => Date;

function demoUsers(ago: DaysAgo): object[] {
  return people.map((person, index) => ({
    _id: person.id,
    orgId: demoOrgId,
    kind: person.kind,
    email: `${person.firstName}.${person.lastName}@demo.example`.toLowerCase(),
    firstName: person.firstName,
    lastName: person.lastName,
    role: person.role,
    status: 'active',
    lastLoginAt: person.lastLoginDaysAgo === null ? null : ago(person.lastLoginDaysAgo),
    createdAt: ago(400 - index),
    allowReactivationOnPurchase: person.kind === 'customer',
  }));
}

/** Two sales teams with leaders; Barbara is in both. */
function demoTeams(ago: DaysAgo): object[] {
  return [
    {
      _id: 'team_north',
      name: 'North',
      leaderId: 'usr_alan',
      memberIds: ['usr_edsger', 'usr_barbara'],
      createdAt: ago(300),
    },
    {
      _id: 'team_south',
      name: 'South',
      leaderId: 'usr_katherine',
      memberIds: ['usr_donald', 'usr_margaret', 'usr_barbara'],
      createdAt: ago(200),
    },
  ].map((team) => ({ ...team, orgId: demoOrgId }));
}

/** Four deals of each member employee: open, open, won, lost. */
function demoOpportunities(): object[] {
  const employees = people.filter(
    (person) => person.kind === 'employee' && person.role === 'member',
  );
  const statuses = ['open', 'open', 'won', 'lost'] as const;
  return employees.flatMap((person) =>
    statuses.map((status, index) => ({
      _id: `opp_${person.id.slice(4)}_${index + 1}`,
      orgId: demoOrgId,
      ownerId: person.id,
      title: `Deal ${index + 1} of ${person.firstName}`,
      status,
      transfers: [],
    })),
  );
}

/** Two subscriptions a person, the statuses in rotation. */
function demoSubscriptions(): object[] {
  const subscriptionStatuses = ['active', 'trialing', 'past_due', 'canceled'] as const;
  return people.flatMap((person, personIndex) =>
    [0, 1].map((slot) => ({
      _id: `sub_${person.id.slice(4)}_${slot + 1}`,
      orgId: demoOrgId,
      userId: person.id,
      plan: slot === 0 ? 'pro' : 'addon-analytics',
      status: subscriptionStatuses[(personIndex + slot) % subscriptionStatuses.length] ?? 'active',
      canceledAt: null,
      cancelReason: null,
    })),
  );
}

/** A session, a refresh and an API token a person. */
function demoTokens(ago: DaysAgo): object[] {
  const tokenTypes = ['session', 'refresh', 'api_key'] as const;
  return people.flatMap((person) =>
    tokenTypes.map((type) => ({
      _id: `tok_${person.id.slice(4)}_${type}`,
      orgId: demoOrgId,
      userId: person.id,
      type,
      issuedAt: ago(10),
      expiresAt: type === 'api_key' ? null : ago(-30),
      revokedAt: null,
      revokedReason: null,
    })),
  );
}

/**
 * Creates the demo organization: admins, managers, members, customers, two sales teams with
 * leaders, opportunities, subscriptions and tokens, and an API key with every scope for it.
 * Does nothing (and returns `null`) when the organization already exists.
 */
export async function seedDemo(models: Models, now = new Date()): Promise<DemoSeed | null> {
  if (await models.organizations.exists({ _id: demoOrgId })) return null;
  const ago: DaysAgo = (days) => new Date(now.getTime() - days * day);

  await insertMissing(models.users, demoUsers(ago));
  const teams = demoTeams(ago);
  await insertMissing(models.teams, teams);
  const opportunities = demoOpportunities();
  await insertMissing(models.opportunities, opportunities);
  const subscriptions = demoSubscriptions();
  await insertMissing(models.subscriptions, subscriptions);
  const tokens = demoTokens(ago);
  await insertMissing(models.tokens, tokens);

  const { key } = await createApiKey(models, { name: 'demo', scopes: ['*'], orgIds: [demoOrgId] });
  // The organization goes last: its existence marks a complete seed, so a seed cut short is
  // retried in full rather than skipped.
  await models.organizations.create({ _id: demoOrgId, name: 'Demo Inc.', createdAt: ago(500) });
  return {
    orgId: demoOrgId,
    users: people.length,
    teams: teams.length,
    opportunities: opportunities.length,
    subscriptions: subscriptions.length,
    tokens: tokens.length,
    apiKey: key,
  };
}
