import type { Db } from 'mongodb';
import { mapLimit } from '../../src/infra/map-limit';
import type { BenchOrg, DepartingUser, UserSize } from './fixtures';

/**
 * What one deactivation writes, as counts: the run completed, the user switched, and each
 * step's documents. The same shape serves the store's state after offboard ran and the floor's
 * own `modifiedCount`s.
 */
export interface WriteCounts {
  run: number;
  user: number;
  revoked: number;
  canceled: number;
  transferred: number;
  teams: number;
  blocked: number;
}

/** The counts a deactivation of a user who owns `size` must reach. */
export function expectedCounts(size: UserSize): WriteCounts {
  return {
    run: 1,
    user: 1,
    revoked: size.tokens,
    canceled: size.subscriptions,
    transferred: size.opportunities,
    teams: size.teams,
    blocked: 1,
  };
}

/** `label: revoked 0 of 10, …` for every count that differs; empty when all match. */
export function countMismatches(label: string, expected: WriteCounts, got: WriteCounts): string[] {
  const wrong = (Object.keys(expected) as (keyof WriteCounts)[])
    .filter((key) => expected[key] !== got[key])
    .map((key) => `${key} ${got[key]} of ${expected[key]}`);
  return wrong.length === 0 ? [] : [`${label}: ${wrong.join(', ')}`];
}

/** Fails the scenario (and so the bench) when a timed section left writes undone. */
export function assertWrites(side: string, mismatches: string[], runs: number): void {
  if (mismatches.length === 0) return;
  throw new Error(
    `${side}: the timed section did not write what it should (${runs} run(s) expected):\n  ${mismatches
      .slice(0, 5)
      .join('\n  ')}${mismatches.length > 5 ? '\n  …' : ''}`,
  );
}

/** A user the timed section deactivated, and the id of the run that did it. */
export interface DoneRun {
  user: DepartingUser;
  runId: string;
}

/**
 * Counts, per run and outside any timing, what the store holds after a timed section: the run
 * `completed`, the user `inactive` under it, and the documents carrying its id (tokens revoked,
 * subscriptions canceled, opportunities moved to the leader, blocklist entry) or no longer
 * listing the user (the user's teams). Equality lookups only, which FerretDB v1 pushes down.
 */
export async function verifyDeactivations(
  db: Db,
  org: BenchOrg,
  done: DoneRun[],
  side: string,
): Promise<void> {
  const byId = <T extends { _id: string }>(name: string) => db.collection<T>(name);
  const mismatches = await mapLimit(done, 8, async ({ user, runId }) => {
    const [run, stored, revoked, canceled, transferred, teams, blocked] = await Promise.all([
      byId<{ _id: string; status: string }>('deactivations').findOne({ _id: runId }),
      byId<{ _id: string; status: string; deactivationId?: string }>('users').findOne({
        _id: user.userId,
      }),
      db.collection('tokens').countDocuments({ revokedByDeactivationId: runId }),
      db.collection('subscriptions').countDocuments({
        cancelDeactivationId: runId,
        status: 'canceled',
      }),
      db.collection('opportunities').countDocuments({
        transferDeactivationIds: runId,
        ownerId: org.leaderId,
      }),
      Promise.all(
        user.teamIds.map((_id) =>
          byId<{ _id: string; memberIds: string[] }>('teams').findOne({ _id }),
        ),
      ),
      db.collection('blocklist').countDocuments({ deactivationId: runId }),
    ]);
    return countMismatches(`run ${runId} of ${user.userId}`, expectedCounts(user.size), {
      run: run?.status === 'completed' ? 1 : 0,
      user: stored?.status === 'inactive' && stored.deactivationId === runId ? 1 : 0,
      revoked,
      canceled,
      transferred,
      teams: teams.filter((team) => team !== null && !team.memberIds.includes(user.userId)).length,
      blocked,
    });
  });
  assertWrites(side, mismatches.flat(), done.length);
}

/**
 * After a sweep or its floor: exactly the `dormant` users are `inactive`, each under a run of
 * its own, and the organization has one run per dormant user and no other.
 */
export async function verifySweepWrites(
  db: Db,
  orgId: string,
  dormant: ReadonlySet<string>,
  side: string,
): Promise<void> {
  const runs = await db
    .collection<{ _id: string; userId: string }>('deactivations')
    .find({ orgId }, { projection: { _id: 1, userId: 1 } })
    .toArray();
  const runUser = new Map(runs.map((run) => [run._id, run.userId]));
  const inactive = await db
    .collection<{ _id: string; deactivationId?: string }>('users')
    .find({ orgId, status: 'inactive' }, { projection: { _id: 1, deactivationId: 1 } })
    .toArray();
  const mismatches: string[] = [];
  if (runs.length !== dormant.size) mismatches.push(`${runs.length} runs for ${dormant.size}`);
  if (inactive.length !== dormant.size) {
    mismatches.push(`${inactive.length} users inactive of ${dormant.size}`);
  }
  for (const user of inactive) {
    if (!dormant.has(user._id)) mismatches.push(`${user._id} inactive, not dormant`);
    else if (runUser.get(user.deactivationId ?? '') !== user._id) {
      mismatches.push(`${user._id} inactive without a run of its own`);
    }
  }
  assertWrites(side, mismatches, dormant.size);
}
