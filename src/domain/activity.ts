/** How recently a user logged in (see docs/rules.md). */
export type Activity = 'active' | 'inactive' | 'never_logged_in';

const dayMs = 24 * 60 * 60 * 1000;

/** The instant before which a last login counts as inactive. */
export function inactivityCutoff(now: Date, inactiveDays: number): Date {
  return new Date(now.getTime() - inactiveDays * dayMs);
}

/**
 * `never_logged_in` when `lastLoginAt` is null, `inactive` when it is older than the threshold,
 * otherwise `active`.
 */
export function classifyActivity(
  lastLoginAt: Date | null,
  inactiveDays: number,
  now: Date,
): Activity {
  if (lastLoginAt === null) return 'never_logged_in';
  return lastLoginAt.getTime() < inactivityCutoff(now, inactiveDays).getTime()
    ? 'inactive'
    : 'active';
}
