import type { FlowProducer } from 'bullmq';
import { ulid } from 'ulid';
import { AppError } from '../errors/app-error';
import { mapLimit } from '../infra/map-limit';
import type { KeyedLock } from '../infra/redis-lock';
import type { Models } from '../models/create-models';
import { stepNames, type Deactivation, type RunSource } from '../models/deactivation.model';
import type { User, UserSnapshot } from '../models/user.model';
import { queueingFailed } from '../queues/queueing-failed';
import { insertIgnoringDuplicates } from '../store/duplicate-key';
import { lookupConcurrency, writeConcurrency } from '../store/per-key-queries';
import {
  assessDeactivation,
  type AssessedUser,
  type Assessment,
  type DeactivationRequest,
} from './assess-deactivation';
import { enqueueRuns } from './deactivation-flow.job';

// The one door through which deactivations are accepted: a single request (the API, SCIM) is
// a batch of one; bulks and sweeps pass their batches. Either way: write the runs, switch the
// users, keep an active admin, add the flows.

/** A pending run this old whose user is still active was left half-way by its request. */
const strandedAfterMs = 1_000;

/**
 * A test seam, empty in production: awaited by every acceptance (a single request, a bulk's
 * batch) after its checks passed and before anything is written or locked. The last-admin race
 * tests park two acceptances here so that both have passed the checks before either switches
 * its user, which makes the race certain.
 */
export const acceptanceSeam: {
  afterChecks?: ((acceptance: Acceptance) => Promise<void>) | undefined;
} = {};

/** What accepting deactivations needs. */
export interface RequestDeactivationDeps {
  models: Models;
  flows: FlowProducer;
  /** Serializes the switch of an organization's admins (see the last-admin recount). */
  locks: KeyedLock;
}

/** What every run of one acceptance shares. */
export interface Acceptance {
  orgId: string;
  actorId: string;
  source: RunSource;
  reason: string | null;
  /** The bulk the runs belong to: a run of the same bulk holding a claim is carried on. */
  bulkId?: string;
}

/**
 * How and when: `now` for every run; the API request's id; run ids chosen in advance, by user
 * (a bulk item's, or a test's).
 */
export interface AcceptanceTrace {
  now: Date;
  requestId?: string | undefined;
  runIds?: ReadonlyMap<string, string>;
}

/** Per user: the run (new, or carried on from an earlier attempt), or why it was refused. */
export type AcceptOutcome = { ok: true; run: Deactivation } | { ok: false; error: AppError };

/**
 * What the steps of one acceptance share: the store, the acceptance and its trace, and the
 * outcome of each user refused on the way.
 */
interface AcceptanceContext {
  models: Models;
  acceptance: Acceptance;
  trace: AcceptanceTrace;
  outcomes: Map<string, AcceptOutcome>;
}

/** Records why `userId` was refused. */
function refuse(
  context: AcceptanceContext,
  userId: string,
  code: 'deactivation_in_progress' | 'already_inactive' | 'last_admin',
  message: string,
): void {
  context.outcomes.set(userId, { ok: false, error: new AppError(code, message) });
}

/** A run on its way to acceptance; `fresh` when this acceptance wrote it. */
interface Candidate {
  user: AssessedUser;
  run: Deactivation;
  fresh: boolean;
  /** The snapshot the user was assessed from, if not read (see BatchRequest.seen). */
  seen: UserSnapshot | undefined;
}

/**
 * The claim of a run: one per user and active period. A reactivation starts a new period, so
 * the user can be deactivated again.
 */
export function runClaim(user: Pick<User, '_id' | 'orgId' | 'reactivatedAt'>): string {
  return `${user.orgId}/${user._id}/${user.reactivatedAt?.getTime() ?? 0}`;
}

/** Builds the run document for an accepted request: every step pending or skipped. */
export function newRun(
  request: Pick<DeactivationRequest, 'orgId' | 'userId' | 'actorId' | 'source' | 'reason'>,
  user: Pick<User, '_id' | 'orgId' | 'reactivatedAt'>,
  plan: Deactivation['plan'],
  now: Date,
  runId: string = ulid(),
): Deactivation {
  return {
    _id: runId,
    claim: runClaim(user),
    orgId: request.orgId,
    userId: request.userId,
    actorId: request.actorId,
    source: request.source,
    reason: request.reason ?? null,
    allowReactivationOnPurchase: plan.allowReactivationOnPurchase,
    status: 'pending',
    plan,
    steps: stepNames.map((name) => ({
      name,
      status: plan.steps[name] ? 'pending' : 'skipped',
      attempts: 0,
      result: null,
      error: null,
      completedAt: null,
    })),
    createdAt: now,
    completedAt: null,
  };
}

/**
 * Accepts one deactivation: the assessment of a batch of one, then {@link acceptDeactivations}.
 * Throws the refusal, or 503 `service_unavailable` naming the run when it is recorded but its
 * flow could not be added (the reconciler adds it later).
 */
export async function requestDeactivation(
  deps: RequestDeactivationDeps,
  request: DeactivationRequest,
  trace: { requestId?: string; now?: Date; runId?: string } = {},
): Promise<Deactivation> {
  // `now` and `runId` are the caller's only in tests that need identical runs in two stores.
  const now = trace.now ?? new Date();
  const assessment = await assessDeactivation(deps.models, request, now, { counts: false });
  const outcomes = await acceptDeactivations(
    deps,
    { ...request, reason: request.reason ?? null },
    [assessment],
    {
      now,
      requestId: trace.requestId,
      ...(trace.runId === undefined ? {} : { runIds: new Map([[request.userId, trace.runId]]) }),
    },
  );
  const outcome = outcomes.get(request.userId);
  if (!outcome) throw new AppError('internal', 'The acceptance lost its user');
  if (!outcome.ok) throw outcome.error;
  return outcome.run;
}

/**
 * Accepts assessed users with a fixed number of round trips: insert the runs (the unique claim
 * lets one run per user and period through), switch the users to `inactive`, keep at least one
 * active admin, then add every flow in one call. Admins are accepted under the organization's
 * admin lock, so that two acceptances switching admins at once cannot both count none left.
 *
 * The runs are written before anything else, so a crash leaves nothing the reconciler cannot
 * see; repeating an acceptance carries its earlier attempt's runs on rather than duplicating
 * them. When Redis refuses the flows the runs stay for the reconciler and this throws 503
 * `service_unavailable` naming them.
 */
export async function acceptDeactivations(
  deps: RequestDeactivationDeps,
  acceptance: Acceptance,
  assessments: Assessment[],
  trace: AcceptanceTrace,
): Promise<Map<string, AcceptOutcome>> {
  if (acceptanceSeam.afterChecks) await acceptanceSeam.afterChecks(acceptance);
  const context: AcceptanceContext = {
    models: deps.models,
    acceptance,
    trace,
    outcomes: new Map(),
  };
  const { outcomes } = context;
  const isAdmin = ({ user }: Assessment): boolean =>
    user.kind === 'employee' && user.role === 'admin';
  const others = assessments.filter((assessment) => !isAdmin(assessment));
  const admins = assessments.filter(isAdmin);
  const accepted = others.length > 0 ? await acceptGroup(context, others) : [];
  if (admins.length > 0) {
    accepted.push(
      ...(await deps.locks.run(`admins:${acceptance.orgId}`, async () =>
        keepAnActiveAdmin(context, await acceptGroup(context, admins)),
      )),
    );
  }

  const runs = accepted.map(({ run }) => run);
  try {
    await enqueueRuns(deps.flows, runs, trace.requestId);
  } catch (error) {
    throw queueingFailed(
      error,
      'The deactivation was accepted and recorded but could not be queued; it will be queued automatically',
      runs.length === 1
        ? { deactivationId: runs[0]?._id }
        : { deactivationIds: runs.map((run) => run._id) },
    );
  }
  for (const { user, run } of accepted) outcomes.set(user._id, { ok: true, run });
  return outcomes;
}

/** Claims and switches one group of users; refusals go to the context's outcomes. */
async function acceptGroup(
  context: AcceptanceContext,
  assessments: Assessment[],
): Promise<Candidate[]> {
  return switchUsers(context, await claimRuns(context, assessments));
}

/**
 * Inserts `runs` unordered; returns, for each one not inserted, the run that holds its claim
 * (null: nobody, so the conflict was on the run's id).
 */
async function insertRuns(
  models: Models,
  runs: Deactivation[],
): Promise<Map<number, Deactivation | null>> {
  const conflicts = [...(await insertIgnoringDuplicates(models.deactivations, runs))];
  // Lookups by equality, not `$in` (see lookupConcurrency).
  const holders = await mapLimit(conflicts, lookupConcurrency, (index) =>
    models.deactivations.findOne({ claim: runs[index]?.claim }).lean(),
  );
  return new Map(conflicts.map((index, i) => [index, holders[i] ?? null]));
}

/**
 * Inserts a run per user. A claim already taken is carried on when the run holding it is this
 * acceptance's own earlier attempt ({@link isOwnEarlierAttempt}); otherwise the user is
 * refused with `deactivation_in_progress`. A run whose id was taken but whose claim is free goes
 * in under an id of its own: the id was chosen in advance (a bulk item's), and an earlier
 * attempt's run under it gave its claim up since (the reconciler abandoned it).
 */
async function claimRuns(
  context: AcceptanceContext,
  assessments: Assessment[],
): Promise<Candidate[]> {
  const { models, acceptance, trace } = context;
  const candidates = assessments.map(({ user, plan, seen }) => {
    const run = newRun(
      { ...acceptance, userId: user._id },
      user,
      plan,
      trace.now,
      trace.runIds?.get(user._id),
    );
    return {
      user,
      seen,
      run: acceptance.bulkId === undefined ? run : { ...run, bulkId: acceptance.bulkId },
    };
  });
  const conflicts = await insertRuns(
    models,
    candidates.map(({ run }) => run),
  );
  const idTaken = [...conflicts].flatMap(([index, holder]) => {
    const candidate = holder === null ? candidates[index] : undefined;
    return candidate ? [{ index, candidate }] : [];
  });
  if (idTaken.length > 0) {
    for (const { candidate } of idTaken) candidate.run = { ...candidate.run, _id: ulid() };
    const again = await insertRuns(
      models,
      idTaken.map(({ candidate }) => candidate.run),
    );
    for (const [i, { index }] of idTaken.entries()) {
      if (again.has(i)) conflicts.set(index, again.get(i) ?? null);
      else conflicts.delete(index);
    }
  }
  return candidates.flatMap(({ user, run, seen }, index): Candidate[] => {
    if (!conflicts.has(index)) return [{ user, run, fresh: true, seen }];
    const holder = conflicts.get(index) ?? null;
    if (holder && isOwnEarlierAttempt(holder, acceptance, trace.now)) {
      return [{ user, run: holder, fresh: false, seen }];
    }
    refuse(
      context,
      user._id,
      'deactivation_in_progress',
      'A deactivation of this user is already under way',
    );
    return [];
  });
}

/**
 * Whether the run holding a claim was written by an earlier attempt of this very acceptance,
 * which stopped half-way (the store failed after the run was written): a bulk's own run, or a
 * single request's by the same actor, still pending. Single runs younger than a second belong to
 * a request still racing this one: that one answers.
 */
function isOwnEarlierAttempt(holder: Deactivation, acceptance: Acceptance, now: Date): boolean {
  if (acceptance.bulkId !== undefined) return holder.bulkId === acceptance.bulkId;
  return (
    holder.status === 'pending' &&
    holder.actorId === acceptance.actorId &&
    now.getTime() - holder.createdAt.getTime() >= strandedAfterMs
  );
}

/**
 * Switches each user from `active` to `inactive` under their run. A user who is no longer
 * active is accepted only when already inactive under this very run (an earlier attempt
 * switched them); otherwise they changed since the checks (deleted, or deactivated by another
 * path): refused with `already_inactive`, and the run this acceptance wrote is removed. A user
 * assessed from a snapshot is switched only if still as seen; one who changed is refused the
 * same way, and the caller assesses them again.
 */
async function switchUsers(
  context: AcceptanceContext,
  candidates: Candidate[],
): Promise<Candidate[]> {
  const { models, acceptance } = context;
  // One update per user, a few at a time, never one bulkWrite (see writeConcurrency).
  const switched = await mapLimit(candidates, writeConcurrency, async ({ user, run, seen }) => {
    const result = await models.users.updateOne(
      {
        _id: user._id,
        orgId: acceptance.orgId,
        status: 'active',
        // `reactivatedAt: null` also matches a user never reactivated (no such field).
        ...(seen && { kind: seen.kind, role: seen.role, reactivatedAt: seen.reactivatedAt }),
      },
      {
        $set: {
          status: 'inactive',
          deactivatedAt: context.trace.now,
          deactivatedBy: acceptance.actorId,
          deactivationId: run._id,
          allowReactivationOnPurchase: run.plan.allowReactivationOnPurchase,
        },
      },
    );
    if (result.matchedCount === 1) return true;
    const current = await models.users
      .findOne({ _id: user._id, orgId: acceptance.orgId }, { deactivationId: 1, status: 1 })
      .lean();
    return current?.status === 'inactive' && current.deactivationId === run._id;
  });
  const lost = candidates.filter((_, index) => switched[index] !== true);
  await mapLimit(lost, writeConcurrency, async ({ user, run, fresh }) => {
    if (fresh) await models.deactivations.deleteOne({ _id: run._id, status: 'pending' });
    refuse(context, user._id, 'already_inactive', 'The user is no longer active');
  });
  return candidates.filter((_, index) => switched[index] === true);
}

/**
 * Counts the organization's active admins after the switch and gives back as many switched
 * admins as it takes to leave one (each refused with `last_admin`): the checks counted before
 * this acceptance and others switched anyone. Returns the admins who stay switched. Runs under
 * the organization's admin lock.
 */
async function keepAnActiveAdmin(
  context: AcceptanceContext,
  admins: Candidate[],
): Promise<Candidate[]> {
  const { models } = context;
  const kept = [...admins];
  if (kept.length === 0) return kept;
  let active = await models.users.countDocuments({
    orgId: context.acceptance.orgId,
    kind: 'employee',
    role: 'admin',
    status: 'active',
  });
  while (active === 0) {
    const restored = kept.pop();
    if (!restored) break;
    await models.users.updateOne(
      { _id: restored.user._id, deactivationId: restored.run._id, status: 'inactive' },
      {
        $set: { status: 'active' },
        $unset: { deactivatedAt: 1, deactivatedBy: 1, deactivationId: 1 },
      },
    );
    await models.deactivations.deleteOne({ _id: restored.run._id, status: 'pending' });
    refuse(
      context,
      restored.user._id,
      'last_admin',
      'The last active admin of an organization cannot be deactivated',
    );
    active += 1;
  }
  return kept;
}
