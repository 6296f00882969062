import { CronExpressionParser, type CronExpression } from 'cron-parser';

/** The shortest time allowed between two fires of a sweep. */
export const minSweepIntervalMs = 60 * 60 * 1000;

const hourMs = 60 * 60 * 1000;
const dayMs = 24 * hourMs;

const fieldNames = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;

// Digits, `*`, lists, ranges and steps, and the month and weekday names of the standard. What
// else cron-parser accepts is refused: `H` (Jenkins hashing, a new random value on every parse:
// BullMQ parses again at every fire, so a "daily" sweep fires several times a day), `L`, `W`,
// `#` and `?`.
const monthNames = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const weekdayNames = 'SUN|MON|TUE|WED|THU|FRI|SAT';
const fieldPatterns: readonly RegExp[] = [
  /^[0-9*,/-]+$/,
  /^[0-9*,/-]+$/,
  /^[0-9*,/-]+$/,
  new RegExp(`^(?:[0-9*,/-]|${monthNames})+$`, 'i'),
  new RegExp(`^(?:[0-9*,/-]|${weekdayNames})+$`, 'i'),
];

/** How many days ahead the checks look for changes of the timezone's UTC offset. */
const horizonDays = 400;
/**
 * Fires walked from now, and around each offset change: a day and two hours (every local time of
 * the pattern, and the turn of the day), at most 24 a day once gaps are 1 h or more.
 */
const maxFiresPerWindow = 100;
const windowSpanMs = dayMs + 2 * hourMs;

/** Local UTC offset (the formatted `GMT+hh:mm`) of `timezone` at `at`. */
function offsetAt(format: Intl.DateTimeFormat, at: number): string {
  return format.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? '';
}

/** Offset changes per timezone, computed once per UTC day: most organizations share a few. */
const changesCache = new Map<string, { day: number; changes: number[] }>();

/** Days (noon UTC) after which the timezone's UTC offset has changed by the next noon. */
function offsetChanges(timezone: string, from: number): number[] {
  const today = Math.floor(from / dayMs);
  const cached = changesCache.get(timezone);
  if (cached?.day === today) return cached.changes;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    timeZoneName: 'longOffset',
  });
  const start = today * dayMs + dayMs / 2;
  const changes: number[] = [];
  let previous = offsetAt(format, start);
  for (let day = 1; day <= horizonDays; day += 1) {
    const at = start + day * dayMs;
    const offset = offsetAt(format, at);
    if (offset !== previous) changes.push(at - dayMs);
    previous = offset;
  }
  // Names are case-insensitive, so the keys are bounded only by this.
  if (changesCache.size >= 1_000) changesCache.clear();
  changesCache.set(timezone, { day: today, changes });
  return changes;
}

/**
 * Walks consecutive fires from `from`; returns the first pair closer than the minimum interval,
 * or null. Stops after `maxFires`, or once a fire is `spanMs` past the first.
 */
function findShortGap(
  cron: string,
  timezone: string,
  from: number,
  limits: { maxFires: number; spanMs: number },
): [Date, Date] | null {
  const expression: CronExpression = CronExpressionParser.parse(cron, {
    tz: timezone,
    currentDate: new Date(from),
  });
  let previous = expression.next().toDate();
  const first = previous.getTime();
  for (let fired = 1; fired < limits.maxFires && expression.hasNext(); fired += 1) {
    const next = expression.next().toDate();
    if (next.getTime() - previous.getTime() < minSweepIntervalMs) return [previous, next];
    if (next.getTime() - first > limits.spanMs) return null;
    previous = next;
  }
  return null;
}

/**
 * Every reason a sweep schedule is refused, empty when it is accepted: five standard cron
 * fields (no seconds, no macros such as `@daily`, no `H`), parsed by cron-parser (the library
 * BullMQ schedules with) in `timezone`, and at least an hour between any two fires.
 *
 * The gap is checked by walking the fires the scheduler would compute (BullMQ computes them
 * with the same cron-parser): a day from now (every local time of the pattern, and the turn of
 * the day), and a day around each change of the timezone's UTC offset in the next 400
 * days (daylight saving moves local times against each other). Between offset changes every
 * firing day repeats the same local times, so this covers more than a year without walking the
 * 8,784 fires of a year of an hourly schedule (about a second on a busy machine).
 * `timezone` must be a valid IANA name.
 */
export function sweepCronProblems(cron: string, timezone: string, now = new Date()): string[] {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    return [
      `must have exactly five fields (minute hour day-of-month month day-of-week), found ${String(fields.length)}: no seconds field, no macros such as @daily`,
    ];
  }
  const problems = fields.flatMap((field, index) =>
    fieldPatterns[index]?.test(field) === true
      ? []
      : [
          `the ${fieldNames[index] ?? 'unknown'} field "${field}" may hold only digits, "*", ",", "-" and "/"${index >= 3 ? ' (and names)' : ''}: no H, L, W, # or ?`,
        ],
  );
  if (problems.length > 0) return problems;
  try {
    CronExpressionParser.parse(cron, { tz: timezone, currentDate: now });
  } catch (error) {
    return [
      `not a valid cron expression: ${error instanceof Error ? error.message : String(error)}`,
    ];
  }
  const limits = { maxFires: maxFiresPerWindow, spanMs: windowSpanMs };
  // From now, and from the noon before each offset change (which lies within the next day).
  const starts = [
    now.getTime(),
    ...offsetChanges(timezone, now.getTime()).map((at) => at - dayMs / 2),
  ];
  for (const from of starts) {
    const gap = findShortGap(cron, timezone, from, limits);
    if (gap) {
      const minutes = Math.round((gap[1].getTime() - gap[0].getTime()) / 60_000);
      return [
        `fires more often than once an hour: ${gap[0].toISOString()} and ${gap[1].toISOString()} are ${String(minutes)} minutes apart`,
      ];
    }
  }
  return [];
}

/** One reason a stored or submitted schedule is refused, by the policy field it is about. */
export interface ScheduleProblem {
  field: 'cron' | 'timezone';
  message: string;
}

/**
 * The timezone (an IANA name `Intl` knows) and then the cron of a sweep policy: what the API
 * refuses with 400 and what start-up skips in a policy written straight to MongoDB.
 */
export function sweepScheduleProblems(
  schedule: { cron: string; timezone: string },
  now = new Date(),
): ScheduleProblem[] {
  try {
    new Intl.DateTimeFormat('en', { timeZone: schedule.timezone });
  } catch {
    return [{ field: 'timezone', message: `Unknown timezone "${schedule.timezone}"` }];
  }
  return sweepCronProblems(schedule.cron, schedule.timezone, now).map((message) => ({
    field: 'cron',
    message,
  }));
}
