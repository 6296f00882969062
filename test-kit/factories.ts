import { randomBytes } from 'node:crypto';
import type { Models } from '../src/models/create-models';
import { newSweepReport } from '../src/sweeps/run-sweep.job';
import type { Opportunity } from '../src/models/opportunity.model';
import type { Organization, SweepPolicy } from '../src/models/organization.model';
import type { Subscription } from '../src/models/subscription.model';
import type { SweepReport } from '../src/models/sweep-report.model';
import type { Team } from '../src/models/team.model';
import type { Token } from '../src/models/token.model';
import type { User } from '../src/models/user.model';

let sequence = 0;
/** A readable unique id: `usr_7_3fa1c2`. */
export function newId(prefix: string): string {
  sequence += 1;
  return `${prefix}_${sequence}_${randomBytes(3).toString('hex')}`;
}

const dayMs = 24 * 60 * 60 * 1000;
export const daysAgo = (days: number, now = Date.now()): Date => new Date(now - days * dayMs);

export function orgFixture(overrides: Partial<Organization> = {}): Organization {
  return { _id: newId('org'), name: 'Acme', createdAt: daysAgo(365), ...overrides };
}

export function userFixture(orgId: string, overrides: Partial<User> = {}): User {
  const id = overrides._id ?? newId('usr');
  return {
    _id: id,
    orgId,
    kind: 'employee',
    email: `${id}@example.test`,
    firstName: `First${id}`,
    lastName: `Last${id}`,
    role: 'member',
    status: 'active',
    lastLoginAt: daysAgo(1),
    createdAt: daysAgo(100),
    allowReactivationOnPurchase: false,
    ...overrides,
  };
}

export function teamFixture(orgId: string, overrides: Partial<Team> = {}): Team {
  return {
    _id: newId('team'),
    orgId,
    name: 'Team',
    leaderId: null,
    memberIds: [],
    createdAt: new Date(),
    ...overrides,
  };
}

export function opportunityFixture(
  orgId: string,
  ownerId: string,
  overrides: Partial<Opportunity> = {},
): Opportunity {
  return {
    _id: newId('opp'),
    orgId,
    ownerId,
    title: 'Deal',
    status: 'open',
    transfers: [],
    ...overrides,
  };
}

export function subscriptionFixture(
  orgId: string,
  userId: string,
  overrides: Partial<Subscription> = {},
): Subscription {
  return {
    _id: newId('sub'),
    orgId,
    userId,
    plan: 'pro',
    status: 'active',
    canceledAt: null,
    cancelReason: null,
    ...overrides,
  };
}

export function tokenFixture(orgId: string, userId: string, overrides: Partial<Token> = {}): Token {
  return {
    _id: newId('tok'),
    orgId,
    userId,
    type: 'session',
    issuedAt: daysAgo(2),
    expiresAt: daysAgo(-30),
    revokedAt: null,
    revokedReason: null,
    ...overrides,
  };
}

/** Inserts fixtures into their collections, in one round trip per collection. */
export async function insertFixtures(
  models: Models,
  fixtures: {
    organizations?: Organization[];
    users?: User[];
    teams?: Team[];
    opportunities?: Opportunity[];
    subscriptions?: Subscription[];
    tokens?: Token[];
  },
): Promise<void> {
  await Promise.all([
    fixtures.organizations?.length ? models.organizations.insertMany(fixtures.organizations) : null,
    fixtures.users?.length ? models.users.insertMany(fixtures.users) : null,
    fixtures.teams?.length ? models.teams.insertMany(fixtures.teams) : null,
    fixtures.opportunities?.length ? models.opportunities.insertMany(fixtures.opportunities) : null,
    fixtures.subscriptions?.length ? models.subscriptions.insertMany(fixtures.subscriptions) : null,
    fixtures.tokens?.length ? models.tokens.insertMany(fixtures.tokens) : null,
  ]);
}

/** An organization seeded by {@link seedStaffedOrg}. */
export interface StaffedOrg {
  orgId: string;
  admin: User;
  admin2: User;
  manager: User;
  users: User[];
}

/**
 * An organization with two active admins (so no request meets last_admin) and a manager, plus
 * the users `extraUsers` makes for it: the usual cast of an API test.
 */
export async function seedStaffedOrg(
  models: Models,
  extraUsers: (orgId: string) => User[] = () => [],
): Promise<StaffedOrg> {
  const org = orgFixture();
  const admin = userFixture(org._id, { role: 'admin' });
  const admin2 = userFixture(org._id, { role: 'admin' });
  const manager = userFixture(org._id, { role: 'manager' });
  const users = extraUsers(org._id);
  await insertFixtures(models, {
    organizations: [org],
    users: [admin, admin2, manager, ...users],
  });
  return { orgId: org._id, admin, admin2, manager, users };
}

/** A member of a {@link StaffedOrg} with something for every deactivation step to do. */
export interface LeavingEmployee extends StaffedOrg {
  user: User;
  /** Led by the organization's manager, so the manager receives the opportunities. */
  team: Team;
}

/**
 * A staffed organization's member in a team led by its manager, with 2 live tokens, 1 active
 * subscription, 2 open opportunities and 1 won (which stays theirs).
 */
export async function seedLeavingEmployee(models: Models): Promise<LeavingEmployee> {
  const staffed = await seedStaffedOrg(models, (orgId) => [userFixture(orgId)]);
  const { orgId, manager } = staffed;
  const [user] = staffed.users;
  if (!user) throw new Error('seedStaffedOrg lost the extra user');
  const team = teamFixture(orgId, { leaderId: manager._id, memberIds: [manager._id, user._id] });
  await insertFixtures(models, {
    teams: [team],
    tokens: [tokenFixture(orgId, user._id), tokenFixture(orgId, user._id)],
    subscriptions: [subscriptionFixture(orgId, user._id)],
    opportunities: [
      opportunityFixture(orgId, user._id),
      opportunityFixture(orgId, user._id),
      opportunityFixture(orgId, user._id, { status: 'won' }),
    ],
  });
  return { ...staffed, user, team };
}

/** An enabled sweep policy: 90 days inactive, daily at 03:00 UTC, no exempt roles, 500 a run. */
export function sweepPolicyFixture(overrides: Partial<SweepPolicy> = {}): SweepPolicy {
  return {
    enabled: true,
    inactiveDays: 90,
    neverLoggedInDays: null,
    exemptRoles: [],
    cron: '0 3 * * *',
    timezone: 'UTC',
    dryRun: false,
    maxPerRun: 500,
    ...overrides,
  };
}

/** A sweep report as a sweep leaves it when it starts: `running`, nothing counted yet. */
export function sweepReportFixture(
  orgId: string,
  overrides: Partial<SweepReport> = {},
): SweepReport {
  return {
    ...newSweepReport(
      `${orgId}-${newId('fire')}`,
      orgId,
      sweepPolicyFixture({ maxPerRun: 100 }),
      new Date(),
    ),
    ...overrides,
  };
}
