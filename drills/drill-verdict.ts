import { hashEmail } from '../src/domain/email';
import type { Submission } from './drill-client';
import type { DrillStore } from './drill-store';
import { effectsOf, unchanged, type EffectDocs, type EffectSnapshot } from './effect-watch';

// What the store says during and after a drill: runs in flight and completed, and the check of
// every run's effects.

/** Waits until every run is completed or `timeoutMs` passes; returns how many completed. */
export async function waitForRuns(
  store: DrillStore,
  runCount: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let completed = 0;
    try {
      completed = await store.models.deactivations.countDocuments({ status: 'completed' });
    } catch {
      // the store may be the fault under drill
    }
    if (completed >= runCount || Date.now() > deadline) return completed;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Runs accepted and not finished (pending or running in the store) right now; 0 when the store
 * does not answer. A fault counts only when it lands while this is above 0.
 */
export async function runsInFlight(store: DrillStore): Promise<number> {
  try {
    const [pending, running] = await Promise.all(
      (['pending', 'running'] as const).map((status) =>
        store.models.deactivations.countDocuments({ orgId: store.orgId, status }),
      ),
    );
    return (pending ?? 0) + (running ?? 0);
  } catch {
    return 0;
  }
}

/** What the store says after a drill. */
export interface Verdict {
  completed: number;
  /** Runs not completed, or with an effect missing. */
  lost: number;
  /**
   * Runs with an effect applied again: a first write rewritten since its step first completed
   * (`revokedAt`, `canceledAt`, a transfer entry, a team member back, a re-created blocklist
   * entry), a second transfer entry, or a second live run for the user.
   */
  duplicated: number;
  problems: string[];
}

/**
 * Checks the store, not the logs: for every run, the user's tokens all revoked by it, every
 * subscription canceled by it, every opportunity moved to the leader with exactly one
 * `transfers` entry for it, the user out of their team, a blocklist entry, an audit event of
 * each type, and the run `completed`; and every effect as its step first wrote it (`first`,
 * recorded by the drill's {@link watchEffects} while it ran).
 */
export async function verifyStore(
  store: DrillStore,
  submission: Submission,
  first: Map<string, EffectSnapshot>,
): Promise<Verdict> {
  const { models, orgId } = store;
  const verdict: Verdict = { completed: 0, lost: 0, duplicated: 0, problems: [] };
  const [runs, tokens, subscriptions, opportunities, teams, blocklist, events] = await Promise.all([
    models.deactivations.find({ orgId }).lean(),
    models.tokens.find({ orgId }).lean(),
    models.subscriptions.find({ orgId }).lean(),
    models.opportunities.find({ orgId }).lean(),
    models.teams.find({ orgId }).lean(),
    models.blocklist.find({ orgId }).lean(),
    models.auditEvents.find({ orgId }).lean(),
  ]);
  const group = <T>(docs: T[], key: (doc: T) => string[]): Map<string, T[]> => {
    const map = new Map<string, T[]>();
    for (const doc of docs) {
      for (const id of key(doc)) map.set(id, [...(map.get(id) ?? []), doc]);
    }
    return map;
  };
  const runById = new Map(runs.map((run) => [run._id, run]));
  const tokensOf = group(tokens, (doc) => [doc.userId]);
  const subscriptionsOf = group(subscriptions, (doc) => [doc.userId]);
  const movedBy = group(opportunities, (doc) => doc.transferDeactivationIds ?? []);
  const teamById = new Map(teams.map((team) => [team._id, team]));
  const blocklistByHash = new Map(blocklist.map((entry) => [entry.emailHash, entry]));
  const eventTypes = new Set<string>();
  for (const event of events) {
    const runId = (event.data as { deactivationId?: unknown }).deactivationId;
    if (typeof runId === 'string') eventTypes.add(`${runId} ${event.type}`);
  }
  const firstByRun = group([...first.values()], (snapshot) => [snapshot.runId]);
  const runsPerUser = group(runs, (doc) => [doc.userId]);

  for (const user of store.users) {
    const runId = submission.runIds.get(user.userId);
    const run = runId === undefined ? undefined : runById.get(runId);
    const missing: string[] = [];
    const again: string[] = [];
    if (!run) missing.push('no run');
    else if (run.status !== 'completed') {
      const errors = run.steps.flatMap((step) =>
        step.error ? [`${step.name} (${step.attempts} attempts): ${step.error}`] : [],
      );
      // Where it stands: each step's status and attempts, e.g. `completed/1 running/3 pending/0`.
      const where = run.steps.map((step) => `${step.status}/${step.attempts}`).join(' ');
      missing.push(
        `run ${run.status} (${where})${errors.length > 0 ? ` [${errors.join('; ')}]` : ''}`,
      );
    }
    // An abandoned run (its request stopped before switching the user) changed nothing.
    if ((runsPerUser.get(user.userId) ?? []).filter((o) => o.status !== 'failed').length > 1) {
      again.push('more than one run');
    }
    if (run) {
      const own = tokensOf.get(user.userId) ?? [];
      if (
        own.length !== 3 ||
        own.some((t) => t.revokedByDeactivationId !== run._id || !t.revokedAt)
      ) {
        missing.push('tokens not all revoked by the run');
      }
      const subs = subscriptionsOf.get(user.userId) ?? [];
      if (
        subs.length !== 1 ||
        subs.some((s) => s.status !== 'canceled' || s.cancelDeactivationId !== run._id)
      ) {
        missing.push('subscription not canceled by the run');
      }
      const moved = movedBy.get(run._id) ?? [];
      if (moved.length < 2) missing.push(`opportunities transferred: ${moved.length} of 2`);
      const entries = moved.map((o) => o.transfers.filter((e) => e.deactivationId === run._id));
      if (moved.length > 2 || entries.some((list) => list.length > 1)) {
        again.push('an opportunity transferred twice');
      }
      if (teams.some((team) => team.memberIds.includes(user.userId)))
        missing.push('still in a team');
      const entry = blocklistByHash.get(hashEmail(user.email));
      if (!entry) missing.push('no blocklist entry');
      for (const type of [
        'user.deactivated',
        'deactivation.completed',
        'opportunities.transferred',
      ]) {
        if (!eventTypes.has(`${run._id} ${type}`)) missing.push(`no ${type} event`);
      }
      // Every effect as its step first wrote it.
      const docs: EffectDocs = {
        tokens: own,
        subscriptions: subs,
        opportunities: moved,
        teams: run.plan.teamIds.map((id) => teamById.get(id) ?? null),
        blocklist: entry ?? null,
      };
      const recorded = firstByRun.get(run._id) ?? [];
      const steps = new Set(recorded.map((snapshot) => snapshot.step));
      const now = new Map(
        [...steps]
          .flatMap((step) => effectsOf(run, step, docs))
          .map((effect) => [`${effect.step} ${effect.what}`, effect]),
      );
      const changed = recorded.filter(
        (snapshot) => !unchanged(snapshot, now.get(`${snapshot.step} ${snapshot.what}`)),
      );
      const added = [...now.keys()].filter(
        (key) => !recorded.some((snapshot) => `${snapshot.step} ${snapshot.what}` === key),
      );
      if (changed.length > 0 || added.length > 0) {
        again.push(
          `rewritten after its step completed: ${[
            ...changed.map(
              (snapshot) =>
                `${snapshot.what} (${snapshot.value} -> ${now.get(`${snapshot.step} ${snapshot.what}`)?.value ?? 'gone'})`,
            ),
            ...added.map((key) => `${key} (new)`),
          ].join(', ')}`,
        );
      }
    }
    if (run?.status === 'completed') verdict.completed += 1;
    if (missing.length > 0) verdict.lost += 1;
    if (again.length > 0) verdict.duplicated += 1;
    const problems = [...missing, ...again];
    if (problems.length > 0 && verdict.problems.length < 10) {
      verdict.problems.push(`${user.userId}: ${problems.join(', ')}`);
    }
  }
  return verdict;
}
