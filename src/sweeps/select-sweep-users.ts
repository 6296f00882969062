import type { SelectionWriter } from '../bulk/bulk-selection';
import { selectDormantUsers, type SelectedUser } from '../bulk/select-dormant-users';
import type { Models } from '../models/create-models';
import type { SweepPolicy } from '../models/organization.model';

/** What a sweep's selection found: every dormant active user, and who was left out, by reason. */
export interface SweepSelection {
  matched: number;
  skippedByReason: Record<string, number>;
}

function incrementReason(counts: Record<string, number>, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1;
}

/**
 * Streams the organization's dormant active users (the policy's `inactiveDays` and
 * `neverLoggedInDays`, as of `now`) through one cursor and writes the ones the sweep
 * deactivates to `selection`: exempt roles and team leaders are skipped, and dormant admins go
 * last, except as many as it takes to leave the organization one active admin (`last_admin`).
 */
export async function selectSweepUsers(
  models: Models,
  input: { orgId: string; policy: SweepPolicy; now: Date },
  selection: SelectionWriter,
): Promise<SweepSelection> {
  const { orgId, policy, now } = input;
  const exempt = new Set<string>(policy.exemptRoles);
  const leaders = new Set(
    (await models.teams.distinct('leaderId', { orgId })).filter(
      (id): id is string => typeof id === 'string',
    ),
  );
  const skippedByReason: Record<string, number> = {};
  const adminCandidates: SelectedUser[] = [];
  let matched = 0;
  for await (const page of selectDormantUsers(
    models,
    orgId,
    { inactiveDays: policy.inactiveDays, neverLoggedInDays: policy.neverLoggedInDays },
    now,
  )) {
    matched += page.length;
    const chosen: SelectedUser[] = [];
    for (const user of page) {
      if (exempt.has(user.role)) incrementReason(skippedByReason, 'exempt_role');
      else if (leaders.has(user._id)) incrementReason(skippedByReason, 'team_leader');
      else if (user.kind === 'employee' && user.role === 'admin') adminCandidates.push(user);
      else chosen.push(user);
    }
    await selection.add(chosen);
  }
  if (adminCandidates.length > 0) {
    // Dormant admins go too, but never the organization's last active one.
    const activeAdmins = await models.users.countDocuments({
      orgId,
      kind: 'employee',
      role: 'admin',
      status: 'active',
    });
    const keep = Math.max(0, Math.min(adminCandidates.length, activeAdmins - 1));
    await selection.add(adminCandidates.slice(0, keep));
    for (let i = keep; i < adminCandidates.length; i += 1)
      incrementReason(skippedByReason, 'last_admin');
  }
  await selection.flush();
  return { matched, skippedByReason };
}
