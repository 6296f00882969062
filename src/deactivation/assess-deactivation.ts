import { buildPlan } from '../domain/deactivation-plan';
import { assertMayDeactivate, type PolicyFacts } from '../domain/deactivation-policy';
import { hashEmail } from '../domain/email';
import { chooseTransferTarget, type TeamForTransfer } from '../domain/transfer-target';
import { AppError } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
import { mapLimit } from '../infra/map-limit';
import type { Models } from '../models/create-models';
import type { DeactivationPlan, RunSource } from '../models/deactivation.model';
import { cancellableSubscriptionStatuses } from '../models/subscription.model';
import type { User, UserSnapshot } from '../models/user.model';
import { equalityOrIn, lookupConcurrency } from '../store/per-key-queries';

/** A deactivation as asked for, before any check. */
export interface DeactivationRequest {
  orgId: string;
  userId: string;
  actorId: string;
  reason?: string | null | undefined;
  allowReactivationOnPurchase?: boolean | undefined;
  source: RunSource;
  /** System actors (`system:sweep`) are not users: they act with an admin's rank. */
  systemActor?: boolean;
}

/** The user fields the rules, the plan and the run read: a stored user, or a snapshot of one. */
export type AssessedUser = Pick<
  User,
  '_id' | 'orgId' | 'kind' | 'role' | 'status' | 'reactivatedAt' | 'email'
>;

/** The outcome of the checks: the user as loaded, and the plan. */
export interface Assessment {
  user: AssessedUser;
  plan: DeactivationPlan;
  /**
   * Set when the user was assessed from a selection's snapshot rather than read: the acceptance
   * switches them only if they still are as seen.
   */
  seen?: UserSnapshot;
}

/** Per user of a batch: the assessment, or the refusal a single request would have got. */
export type AssessmentOutcome =
  { ok: true; assessment: Assessment } | { ok: false; error: AppError };

/** Several users of one organization, by one actor, with the same options. */
export interface BatchRequest {
  orgId: string;
  actorId: string;
  systemActor?: boolean;
  allowReactivationOnPurchase?: boolean | undefined;
  userIds: string[];
  /**
   * Users a selection read, as it saw them (active): they are not read again. A refusal built
   * on a snapshot may be stale, and so may an acceptance: the acceptance switches such a user
   * only if they are still as seen, and the caller assesses anyone refused again from the store
   * (see processBulkBatch).
   */
  seen?: ReadonlyMap<string, UserSnapshot>;
  /**
   * Whether the plans count what each step would touch: a dry run's answer does. A run does not
   * (a single request's 202, a bulk's batch, a sweep): four reads per user that no rule and no
   * step depends on; its plan carries `counts: null`.
   */
  counts: boolean;
}

const teamOrder = { createdAt: 1, _id: 1 } as const;
const teamFields = { _id: 1, leaderId: 1, createdAt: 1 } as const;

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

async function countEach(
  keys: string[],
  count: (key: string) => Promise<number>,
): Promise<Map<string, number>> {
  const counts = await mapLimit(keys, lookupConcurrency, count);
  return new Map(keys.map((key, index) => [key, counts[index] ?? 0]));
}

/** What the rules need about a batch, read once for all its users. */
interface RuleFacts {
  users: Map<string, AssessedUser>;
  actor: PolicyFacts['actor'];
  activeAdminCount: number;
  ledTeams: Map<string, { _id: string }[]>;
  runInProgress: Map<string, string>;
  /** Each employee's teams, for the plan: the transfer target and the teams to leave. */
  ownTeams: Map<string, TeamForTransfer[]>;
  memberTeams: TeamForTransfer[];
}

/**
 * Applies the rules of docs/rules.md to a batch of users and computes each accepted user's plan:
 * bulk deactivations and sweeps go through the very checks of a single request. Facts shared by
 * the batch (organization, actor, admins, teams) are read once; per-user facts are read by
 * equality on an indexed key, several at a time (see src/store/per-key-queries.ts). Reads only.
 */
export async function assessDeactivations(
  models: Models,
  request: BatchRequest,
  now: Date,
): Promise<Map<string, AssessmentOutcome>> {
  const userIds = [...new Set(request.userIds)];
  // A dry run of one user is nearly always accepted, and its counts need nothing the rules read:
  // they go out with the first reads and are awaited last, so they overlap every other round
  // instead of adding one. A batch counts only the users it accepted.
  const earlyCounts =
    userIds.length === 1 && request.counts
      ? countSteps(models, request.orgId, userIds, userIds, now)
      : null;
  // Refused before anything awaits them: the counts' outcome no longer matters.
  earlyCounts?.catch(() => undefined);
  // Counting needs what a snapshot leaves out (the email): a counted assessment reads everyone.
  const seen: ReadonlyMap<string, UserSnapshot> =
    request.counts || request.seen === undefined ? new Map() : request.seen;
  const facts = await loadRuleFacts(models, request, userIds, seen);
  const { outcomes, accepted } = applyRules(facts, userIds);
  if (accepted.length === 0) return outcomes;
  const planFacts = await loadPlanFacts(
    models,
    request.orgId,
    accepted,
    facts,
    request.counts ? () => loadCountFacts(models, request.orgId, accepted, now, earlyCounts) : null,
  );
  for (const user of accepted) {
    const snapshot = seen.get(user._id);
    const plan = planFor(user, facts, planFacts, request, now);
    outcomes.set(user._id, {
      ok: true,
      assessment: snapshot === undefined ? { user, plan } : { user, plan, seen: snapshot },
    });
  }
  return outcomes;
}

/** Loads the organization, the users, the actor, and what the rules ask of each user. */
async function loadRuleFacts(
  models: Models,
  request: BatchRequest,
  userIds: string[],
  seen: ReadonlyMap<string, UserSnapshot>,
): Promise<RuleFacts> {
  const { orgId, actorId } = request;
  const snapshots = userIds.flatMap((_id): AssessedUser[] => {
    const snapshot = seen.get(_id);
    return snapshot ? [{ _id, orgId, status: 'active', ...snapshot }] : [];
  });
  const unseen = userIds.filter((_id) => seen.get(_id) === undefined);
  const [orgExists, users, actor] = await Promise.all([
    models.organizations.exists({ _id: orgId }),
    mapLimit(unseen, lookupConcurrency, (_id) => models.users.findOne({ _id, orgId }).lean()).then(
      (found): AssessedUser[] => [...snapshots, ...found.filter((user) => user !== null)],
    ),
    request.systemActor ? null : models.users.findOne({ _id: actorId, orgId }).lean(),
  ]);
  if (!orgExists) throw new AppError('not_found', `Unknown organization ${orgId}`);
  // The whole batch is refused, rather than every user skipped as if they were the unknown one.
  if (!request.systemActor && actor === null) {
    throw new AppError('not_found', `Unknown actor ${actorId}`);
  }
  const employees = users.filter((user) => user.kind === 'employee').map((user) => user._id);
  const inactive = users.filter((user) => user.status === 'inactive').map((user) => user._id);
  const anyAdmin = users.some((user) => user.kind === 'employee' && user.role === 'admin');

  const [ledTeams, activeAdminCount, runsInProgress, memberTeams] = await Promise.all([
    employees.length > 0
      ? models.teams
          .find({ orgId, leaderId: equalityOrIn(employees) }, teamFields)
          .sort(teamOrder)
          .lean()
      : [],
    anyAdmin
      ? models.users.countDocuments({ orgId, kind: 'employee', role: 'admin', status: 'active' })
      : 0,
    mapLimit(inactive, lookupConcurrency, (userId) =>
      models.deactivations
        .findOne({ orgId, userId, status: { $in: ['pending', 'running'] } }, { _id: 1, userId: 1 })
        .lean(),
    ).then((found) => found.filter((run) => run !== null)),
    employees.length > 0
      ? models.teams
          .find({ orgId, memberIds: equalityOrIn(employees) }, { ...teamFields, memberIds: 1 })
          .lean()
      : [],
  ]);
  return {
    users: new Map(users.map((user) => [user._id, user])),
    // System actors (`system:sweep`) are not users: they act with an admin's rank.
    actor: request.systemActor
      ? { _id: actorId, kind: 'employee', role: 'admin', status: 'active' }
      : actor,
    activeAdminCount,
    ledTeams: groupBy(ledTeams, (team) => team.leaderId ?? ''),
    runInProgress: new Map(runsInProgress.map((run) => [run.userId, run._id])),
    ownTeams: teamsByMember(memberTeams, new Set(employees)),
    memberTeams,
  };
}

/** Each wanted member's teams, in the store's order. */
function teamsByMember(
  teams: (TeamForTransfer & { memberIds: string[] })[],
  wanted: Set<string>,
): Map<string, TeamForTransfer[]> {
  const byMember = new Map<string, TeamForTransfer[]>();
  for (const team of teams) {
    for (const member of team.memberIds) {
      if (!wanted.has(member)) continue;
      const own = byMember.get(member) ?? [];
      own.push({ _id: team._id, leaderId: team.leaderId, createdAt: team.createdAt });
      byMember.set(member, own);
    }
  }
  return byMember;
}

/** The pure rules, per user in the batch's order: the refusals, and the users accepted. */
function applyRules(
  facts: RuleFacts,
  userIds: string[],
): { outcomes: Map<string, AssessmentOutcome>; accepted: AssessedUser[] } {
  const outcomes = new Map<string, AssessmentOutcome>();
  const accepted: AssessedUser[] = [];
  for (const userId of userIds) {
    const user = facts.users.get(userId);
    if (!user) {
      outcomes.set(userId, {
        ok: false,
        error: new AppError('not_found', `Unknown user ${userId}`),
      });
      continue;
    }
    try {
      assertMayDeactivate({
        actor: facts.actor,
        user,
        activeAdminCount: facts.activeAdminCount,
        ledTeamIds: (facts.ledTeams.get(userId) ?? []).map((team) => team._id),
        runInProgressId: facts.runInProgress.get(userId) ?? null,
      });
      accepted.push(user);
    } catch (error) {
      outcomes.set(userId, { ok: false, error: toAppError(error) });
    }
  }
  return { outcomes, accepted };
}

/** Per user, what the three counting steps would touch. */
interface StepCounts {
  tokens: Map<string, number>;
  subscriptions: Map<string, number>;
  opportunities: Map<string, number>;
}

/** The counts each step would touch, and what the blocklist's count is read from. */
interface CountFacts extends StepCounts {
  hashes: Map<string, string>;
  blockedHashes: Set<string>;
}

/** What the plans need: transfer candidates, and the counts (null: not counted). */
interface PlanFacts {
  orgTeams: TeamForTransfer[];
  activeLeaderIds: Set<string>;
  counted: CountFacts | null;
}

/**
 * Counts the unrevoked tokens issued up to `now` and the cancellable subscriptions of `userIds`,
 * and the open opportunities of `ownerIds` (employees: {@link buildPlan} zeroes the count of a
 * step that does not apply).
 */
async function countSteps(
  models: Models,
  orgId: string,
  userIds: string[],
  ownerIds: string[],
  now: Date,
): Promise<StepCounts> {
  const [tokens, subscriptions, opportunities] = await Promise.all([
    countEach(userIds, (userId) =>
      models.tokens.countDocuments({ userId, orgId, revokedAt: null, issuedAt: { $lte: now } }),
    ),
    countEach(userIds, (userId) =>
      models.subscriptions.countDocuments({
        userId,
        orgId,
        status: { $in: cancellableSubscriptionStatuses },
      }),
    ),
    countEach(ownerIds, (ownerId) =>
      models.opportunities.countDocuments({ ownerId, orgId, status: 'open' }),
    ),
  ]);
  return { tokens, subscriptions, opportunities };
}

/**
 * Loads, for the accepted users only, the transfer candidates, and the counts of each step
 * alongside through `loadCounts` (null: not counted).
 */
async function loadPlanFacts(
  models: Models,
  orgId: string,
  accepted: AssessedUser[],
  facts: RuleFacts,
  loadCounts: (() => Promise<CountFacts>) | null,
): Promise<PlanFacts> {
  const acceptedEmployees = employeeIds(accepted);
  const needOrgTeams = acceptedEmployees.some((id) => !facts.ownTeams.has(id));
  const orgTeams: TeamForTransfer[] = needOrgTeams
    ? await models.teams.find({ orgId }, teamFields).sort(teamOrder).lean()
    : [];
  const leaderIds = new Set<string>();
  for (const team of [...facts.memberTeams, ...orgTeams]) {
    if (team.leaderId) leaderIds.add(team.leaderId);
  }
  const [activeLeaders, counted] = await Promise.all([
    mapLimit([...leaderIds], lookupConcurrency, (_id) =>
      models.users.findOne({ _id, orgId, status: 'active' }, { _id: 1 }).lean(),
    ).then((found) => found.filter((leader) => leader !== null)),
    loadCounts?.() ?? null,
  ]);
  return {
    orgTeams,
    activeLeaderIds: new Set(activeLeaders.map((leader) => leader._id)),
    counted,
  };
}

/** The ids of the employees among `users` (only theirs have opportunities to transfer). */
function employeeIds(users: AssessedUser[]): string[] {
  return users.filter((user) => user.kind === 'employee').map((user) => user._id);
}

/**
 * The accepted users' step counts (`earlyCounts` when a single request started them already),
 * and which of their emails are already blocklisted.
 */
async function loadCountFacts(
  models: Models,
  orgId: string,
  accepted: AssessedUser[],
  now: Date,
  earlyCounts: Promise<StepCounts> | null,
): Promise<CountFacts> {
  const hashes = new Map(
    accepted.flatMap((user) => (user.email ? [[user._id, hashEmail(user.email)] as const] : [])),
  );
  const acceptedIds = accepted.map((user) => user._id);
  const [counts, blocked] = await Promise.all([
    earlyCounts ?? countSteps(models, orgId, acceptedIds, employeeIds(accepted), now),
    mapLimit([...hashes.values()], lookupConcurrency, (emailHash) =>
      models.blocklist.findOne({ orgId, emailHash }, { emailHash: 1 }).lean(),
    ).then((found) => found.filter((entry) => entry !== null)),
  ]);
  return { ...counts, hashes, blockedHashes: new Set(blocked.map((entry) => entry.emailHash)) };
}

/** One accepted user's plan, from the facts (pure). */
function planFor(
  user: AssessedUser,
  facts: RuleFacts,
  planFacts: PlanFacts,
  request: BatchRequest,
  now: Date,
): DeactivationPlan {
  const ownTeams = facts.ownTeams.get(user._id) ?? [];
  const target =
    user.kind === 'employee'
      ? chooseTransferTarget(
          user._id,
          { ownTeams, orgTeams: planFacts.orgTeams },
          planFacts.activeLeaderIds,
        )
      : null;
  const { counted } = planFacts;
  const hash = counted?.hashes.get(user._id);
  return buildPlan({
    userKind: user.kind,
    allowReactivationOnPurchase: request.allowReactivationOnPurchase ?? false,
    cutoff: now,
    target,
    teamIds: ownTeams.map((team) => team._id),
    counts:
      counted === null
        ? null
        : {
            'revoke-tokens': counted.tokens.get(user._id) ?? 0,
            'cancel-subscriptions': counted.subscriptions.get(user._id) ?? 0,
            'transfer-opportunities': counted.opportunities.get(user._id) ?? 0,
            'remove-from-teams': ownTeams.length,
            'blocklist-email': hash === undefined || counted.blockedHashes.has(hash) ? 0 : 1,
          },
  });
}

/**
 * Loads what the rules need for one user, applies them (throwing the refusal) and computes the
 * plan; with `counts` (a dry run), what each step would touch. Shared by the request and its dry
 * run.
 */
export async function assessDeactivation(
  models: Models,
  request: DeactivationRequest,
  now: Date,
  options: { counts: boolean },
): Promise<Assessment> {
  const outcomes = await assessDeactivations(
    models,
    {
      orgId: request.orgId,
      actorId: request.actorId,
      ...(request.systemActor === undefined ? {} : { systemActor: request.systemActor }),
      allowReactivationOnPurchase: request.allowReactivationOnPurchase,
      userIds: [request.userId],
      counts: options.counts,
    },
    now,
  );
  const outcome = outcomes.get(request.userId);
  if (!outcome) throw new AppError('internal', 'The assessment lost its user');
  if (!outcome.ok) throw outcome.error;
  return outcome.assessment;
}
