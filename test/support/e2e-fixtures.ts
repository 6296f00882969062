import { hashEmail } from '../../src/domain/email';
import type { Models } from '../../src/models/create-models';
import type { Deactivation } from '../../src/models/deactivation.model';
import {
  insertFixtures,
  opportunityFixture,
  orgFixture,
  subscriptionFixture,
  teamFixture,
  tokenFixture,
  userFixture,
} from '../../test-kit/factories';

/** The organization every e2e case deactivates in: an admin who acts, a leader who receives. */
export interface E2eOrg {
  orgId: string;
  actorId: string;
  leaderId: string;
}

export async function seedE2eOrg(models: Models): Promise<E2eOrg> {
  const org = orgFixture();
  const actor = userFixture(org._id, { role: 'admin' });
  const secondAdmin = userFixture(org._id, { role: 'admin' });
  const leader = userFixture(org._id, { role: 'manager' });
  await insertFixtures(models, {
    organizations: [org],
    users: [actor, secondAdmin, leader],
  });
  return { orgId: org._id, actorId: actor._id, leaderId: leader._id };
}

/** A member leaving the organization, with something for every step to do. */
export interface DepartingUser {
  userId: string;
  email: string;
  teamId: string;
  tokenIds: string[];
  subscriptionIds: string[];
  opportunityIds: string[];
}

/**
 * A member of a team of their own (led by the org's leader, so the leader is the transfer
 * target) with `tokens` live tokens, `subscriptions` active subscriptions and `opportunities`
 * open opportunities, all inserted with insertMany.
 */
export async function seedDepartingUser(
  models: Models,
  org: E2eOrg,
  counts: { tokens: number; subscriptions: number; opportunities: number },
): Promise<DepartingUser> {
  const user = userFixture(org.orgId);
  const team = teamFixture(org.orgId, { leaderId: org.leaderId, memberIds: [user._id] });
  const tokens = Array.from({ length: counts.tokens }, () => tokenFixture(org.orgId, user._id));
  const subscriptions = Array.from({ length: counts.subscriptions }, () =>
    subscriptionFixture(org.orgId, user._id),
  );
  const opportunities = Array.from({ length: counts.opportunities }, () =>
    opportunityFixture(org.orgId, user._id),
  );
  await insertFixtures(models, { users: [user], teams: [team], tokens, subscriptions });
  // Large batches in slices: one huge insert is slow to build on the store's side.
  for (let start = 0; start < opportunities.length; start += 500) {
    await models.opportunities.insertMany(opportunities.slice(start, start + 500));
  }
  return {
    userId: user._id,
    email: user.email ?? '',
    teamId: team._id,
    tokenIds: tokens.map((token) => token._id),
    subscriptionIds: subscriptions.map((subscription) => subscription._id),
    opportunityIds: opportunities.map((opportunity) => opportunity._id),
  };
}

/** What these tests read from an answer: a run, or an error. */
export interface ApiBody {
  id?: string;
  status?: string;
  steps?: { name: string; status: string; attempts: number; result: unknown }[];
  error?: { code: string; message: string; details?: { deactivationId?: string } };
}

/** A JSON answer of the API. */
export interface ApiAnswer {
  status: number;
  body: ApiBody | null;
}

/** The deactivation endpoints over real HTTP, with a Bearer key. */
export interface DeactivationApi {
  deactivate: (userId: string, actorId: string) => Promise<ApiAnswer>;
  getRun: (runId: string) => Promise<ApiAnswer>;
}

export function deactivationApi(baseUrl: string, apiKey: string, orgId: string): DeactivationApi {
  const call = async (path: string, init: RequestInit = {}): Promise<ApiAnswer> => {
    const response = await fetch(`${baseUrl}/v1/orgs/${orgId}${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${apiKey}`,
        'Content-Type': 'application/json',
      },
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };
  return {
    deactivate: (userId, actorId) =>
      call('/deactivations', { method: 'POST', body: JSON.stringify({ userId, actorId }) }),
    getRun: (runId) => call(`/deactivations/${runId}`),
  };
}

/** The run as stored, or a clear failure. */
export async function storedRun(models: Models, runId: string): Promise<Deactivation> {
  const run = await models.deactivations.findById(runId).lean();
  if (!run) throw new Error(`run ${runId} is not in the store`);
  return run;
}

/**
 * Asserts that run `runId` completed and that every side effect it owns happened exactly once:
 * every token revoked by it, every subscription canceled by it, every opportunity moved to the
 * leader with exactly one transfers entry for it, the user out of the team, one blocklist entry,
 * one audit event of each type.
 */
export async function expectEffectsExactlyOnce(
  models: Models,
  org: E2eOrg,
  user: DepartingUser,
  runId: string,
): Promise<void> {
  const run = await storedRun(models, runId);
  expect(run.status).toBe('completed');
  expect(run.steps.map((step) => [step.name, step.status])).toEqual([
    ['revoke-tokens', 'completed'],
    ['cancel-subscriptions', 'completed'],
    ['transfer-opportunities', 'completed'],
    ['remove-from-teams', 'completed'],
    ['blocklist-email', 'completed'],
  ]);
  expect(run.steps.map((step) => step.result)).toEqual([
    { revoked: user.tokenIds.length },
    { canceled: user.subscriptionIds.length },
    { transferred: user.opportunityIds.length, to: org.leaderId, retained: 0 },
    { teams: 1 },
    { blocked: 1 },
  ]);

  const stored = await models.users.findById(user.userId).lean();
  expect(stored).toMatchObject({ status: 'inactive', deactivationId: runId });

  const tokens = await models.tokens.find({ userId: user.userId }).lean();
  expect(tokens).toHaveLength(user.tokenIds.length);
  for (const token of tokens) {
    expect(token).toMatchObject({
      revokedReason: 'user_deactivated',
      revokedByDeactivationId: runId,
    });
    expect(token.revokedAt).toBeInstanceOf(Date);
  }

  const subscriptions = await models.subscriptions.find({ userId: user.userId }).lean();
  expect(subscriptions).toHaveLength(user.subscriptionIds.length);
  for (const subscription of subscriptions) {
    expect(subscription).toMatchObject({
      status: 'canceled',
      cancelReason: 'user_deactivated',
      cancelDeactivationId: runId,
    });
  }

  const opportunities = await models.opportunities
    .find({ _id: { $in: user.opportunityIds } }, { ownerId: 1, transfers: 1 })
    .lean();
  expect(opportunities).toHaveLength(user.opportunityIds.length);
  const wrong = opportunities.filter(
    (opportunity) =>
      opportunity.ownerId !== org.leaderId ||
      opportunity.transfers.length !== 1 ||
      opportunity.transfers.filter((entry) => entry.deactivationId === runId).length !== 1,
  );
  expect(
    wrong.map((opportunity) => [opportunity._id, opportunity.ownerId, opportunity.transfers]),
  ).toEqual([]);
  expect(opportunities[0]?.transfers[0]).toMatchObject({
    from: user.userId,
    to: org.leaderId,
    deactivationId: runId,
  });

  const team = await models.teams.findById(user.teamId).lean();
  expect(team?.memberIds).not.toContain(user.userId);

  const blocklist = await models.blocklist
    .find({ orgId: org.orgId, emailHash: hashEmail(user.email) })
    .lean();
  expect(blocklist).toHaveLength(1);
  expect(blocklist[0]).toMatchObject({ deactivationId: runId, createdBy: org.actorId });

  // Operators' retries (`job.retried`) are audited too; they are not effects of the run.
  const events = await models.auditEvents
    .find({ subjectId: user.userId, type: { $ne: 'job.retried' } })
    .lean();
  expect(events.map((event) => event.type).sort()).toEqual([
    'deactivation.completed',
    'opportunities.transferred',
    'user.deactivated',
  ]);
  for (const event of events) expect(event.data).toMatchObject({ deactivationId: runId });
}
