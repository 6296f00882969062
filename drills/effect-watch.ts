import { hashEmail } from '../src/domain/email';
import { mapLimit } from '../src/infra/map-limit';
import type { Deactivation, StepName } from '../src/models/deactivation.model';
import type { BlocklistEntry } from '../src/models/blocklist-entry.model';
import type { Opportunity } from '../src/models/opportunity.model';
import type { Subscription } from '../src/models/subscription.model';
import type { Team } from '../src/models/team.model';
import type { Token } from '../src/models/token.model';
import type { Models } from '../src/models/create-models';

/** The part of a drill's store the watch reads. */
interface WatchedStore {
  models: Models;
  orgId: string;
  users: { userId: string; email: string }[];
}

/**
 * What one effect looked like when its step first completed, as a string to compare: the
 * fields a repeated effect would rewrite (a second revoke rewrites `revokedAt`, a second
 * transfer adds or rewrites an entry, a stale team write re-adds a member, a re-created
 * blocklist entry gets a new id and `createdAt`).
 */
export interface EffectSnapshot {
  runId: string;
  step: StepName;
  /** What is compared, e.g. `token tok_1`. */
  what: string;
  value: string;
}

/** Watches a drill's runs and records each step's effects the moment it first completes. */
export interface EffectWatch {
  /** Stops polling, then records what the steps completed since the last poll wrote. */
  finish: () => Promise<void>;
  /** Every snapshot so far, keyed by `runId step what`. */
  snapshots: () => Map<string, EffectSnapshot>;
  /** Snapshots taken while the drill was still running, not by the final poll. */
  takenInFlight: () => number;
}

const iso = (date: Date | null | undefined): string =>
  date instanceof Date ? date.toISOString() : 'null';

/** The documents a step's effects are read from (only those of its step are needed). */
export interface EffectDocs {
  tokens: Token[];
  subscriptions: Subscription[];
  /** The opportunities carrying the run's id in `transferDeactivationIds`. */
  opportunities: Opportunity[];
  /** The run's planned teams, as they are now (`null` for one that is gone). */
  teams: (Team | null)[];
  blocklist: BlocklistEntry | null;
}

/** A step's effects in `docs` (the user's own documents), as snapshots. */
export function effectsOf(
  run: Pick<Deactivation, '_id' | 'userId' | 'plan'>,
  step: StepName,
  docs: EffectDocs,
): EffectSnapshot[] {
  const of = (what: string, value: unknown): EffectSnapshot => ({
    runId: run._id,
    step,
    what,
    value: JSON.stringify(value),
  });
  switch (step) {
    case 'revoke-tokens':
      return docs.tokens.map((token) =>
        of(`token ${token._id}`, [iso(token.revokedAt), token.revokedByDeactivationId]),
      );
    case 'cancel-subscriptions':
      return docs.subscriptions.map((subscription) =>
        of(`subscription ${subscription._id}`, [
          subscription.status,
          iso(subscription.canceledAt),
          subscription.cancelDeactivationId,
        ]),
      );
    case 'transfer-opportunities':
      return docs.opportunities.map((opportunity) =>
        of(`opportunity ${opportunity._id}`, [
          opportunity.ownerId,
          opportunity.transfers
            .filter((entry) => entry.deactivationId === run._id)
            .map((entry) => [entry.from, entry.to, iso(entry.at)]),
        ]),
      );
    case 'remove-from-teams':
      return run.plan.teamIds.map((teamId, index) => {
        const team = docs.teams[index];
        return of(`team ${teamId}`, team ? [...team.memberIds].sort() : null);
      });
    case 'blocklist-email':
      return docs.blocklist
        ? [
            of(`blocklist ${docs.blocklist._id}`, [
              iso(docs.blocklist.createdAt),
              docs.blocklist.deactivationId,
            ]),
          ]
        : [];
  }
}

/**
 * Reads a step's effects from the store now: equality lookups only (FerretDB v1 scans a
 * collection for `$in`).
 */
export async function readEffects(
  store: WatchedStore,
  run: Pick<Deactivation, '_id' | 'userId' | 'plan'>,
  step: StepName,
  email: string,
): Promise<EffectSnapshot[]> {
  const { models, orgId } = store;
  const docs: EffectDocs = {
    tokens: [],
    subscriptions: [],
    opportunities: [],
    teams: [],
    blocklist: null,
  };
  if (step === 'revoke-tokens')
    docs.tokens = await models.tokens.find({ userId: run.userId }).lean();
  if (step === 'cancel-subscriptions') {
    docs.subscriptions = await models.subscriptions.find({ userId: run.userId }).lean();
  }
  if (step === 'transfer-opportunities') {
    docs.opportunities = await models.opportunities
      .find({ transferDeactivationIds: run._id })
      .lean();
  }
  if (step === 'remove-from-teams') {
    docs.teams = await Promise.all(run.plan.teamIds.map((id) => models.teams.findById(id).lean()));
  }
  if (step === 'blocklist-email') {
    docs.blocklist = await models.blocklist.findOne({ orgId, emailHash: hashEmail(email) }).lean();
  }
  return effectsOf(run, step, docs);
}

/**
 * Whether an effect is as it was first written. A team may only have lost members since
 * (teammates leave; none comes back); everything else must be unchanged.
 */
export function unchanged(first: EffectSnapshot, now: EffectSnapshot | undefined): boolean {
  if (now === undefined) return false;
  if (!first.what.startsWith('team ')) return first.value === now.value;
  const before = JSON.parse(first.value) as string[] | null;
  const after = JSON.parse(now.value) as string[] | null;
  if (before === null || after === null) return before === after;
  return after.every((member) => before.includes(member));
}

/**
 * Polls the drill's runs every `intervalMs`: the runs in flight (two equality queries), and
 * each accepted run not seen completed yet. A step seen completed for the first time has its
 * effects read at once. Errors (the store may be the fault under drill) wait for the next poll.
 */
export function watchEffects(
  store: WatchedStore,
  accepted: () => Iterable<string>,
  intervalMs = 500,
): EffectWatch {
  const snapshots = new Map<string, EffectSnapshot>();
  const doneSteps = new Set<string>();
  const finishedRuns = new Set<string>();
  const emailOf = new Map(store.users.map((user) => [user.userId, user.email]));
  let inFlight = 0;
  let final = false;

  const record = async (run: Deactivation): Promise<void> => {
    for (const step of run.steps) {
      const key = `${run._id} ${step.name}`;
      if (step.status !== 'completed' || doneSteps.has(key)) continue;
      const effects = await readEffects(store, run, step.name, emailOf.get(run.userId) ?? '');
      for (const effect of effects) {
        snapshots.set(`${effect.runId} ${effect.step} ${effect.what}`, effect);
        if (!final) inFlight += 1;
      }
      doneSteps.add(key);
    }
    if (run.status === 'completed') finishedRuns.add(run._id);
  };

  const poll = async (): Promise<void> => {
    const { models, orgId } = store;
    const running = [
      ...(await models.deactivations.find({ orgId, status: 'pending' }).lean()),
      ...(await models.deactivations.find({ orgId, status: 'running' }).lean()),
    ];
    const seen = new Set(running.map((run) => run._id));
    const others = [...accepted()].filter((id) => !seen.has(id) && !finishedRuns.has(id));
    const fetched = await mapLimit(others, 8, (id) => models.deactivations.findById(id).lean());
    const runs = [...running, ...fetched.filter((run) => run !== null)];
    await mapLimit(runs, 8, record);
  };

  const state = { stopped: false, finished: null as Promise<void> | null };
  const loop = (async () => {
    while (!state.stopped) {
      await poll().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();

  return {
    finish: () => {
      state.finished ??= (async () => {
        state.stopped = true;
        await loop;
        final = true;
        await poll();
      })();
      return state.finished;
    },
    snapshots: () => snapshots,
    takenInFlight: () => inFlight,
  };
}
