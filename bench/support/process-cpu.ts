import { readdirSync, readFileSync } from 'node:fs';
import { median } from './sampled-row';

/**
 * CPU time of the processes taking part in a scenario, by role, read from Linux's /proc: the
 * store (every `ferretdb` and `postgres` process of the machine), Redis (`redis-server`), and the
 * processes named by pid (the API, the worker, the bench itself).
 *
 * Why: on a small machine every process of the stack shares the same cores, so under load a
 * deactivation's throughput is bounded by the CPU all of them spend on it, not by any one
 * process. These figures say where that CPU goes, for offboard and for its floor. Elsewhere
 * than Linux, or for a remote store, the roles not found on this machine read 0.
 */
export type CpuByRole = Record<string, number>;

/** The clock ticks per second of /proc's `utime` and `stime` (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

/** Which role a process of the machine plays, by its command name. */
const rolesByCommand: Record<string, string> = {
  ferretdb: 'FerretDB',
  postgres: 'PostgreSQL',
  'redis-server': 'Redis',
};

/** CPU seconds so far, per pid, of every process with a role. */
type CpuSnapshot = Map<number, { role: string; seconds: number }>;

/** Reads the CPU seconds spent so far by each process with a role; `named` gives pids a role. */
function cpuSnapshot(named: Record<number, string>): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return snapshot;
  }
  for (const entry of pids) {
    const pid = Number(entry);
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name is in parentheses and may hold spaces; the fields follow the last `)`.
    const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const role = named[pid] ?? rolesByCommand[command];
    if (role === undefined) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    snapshot.set(pid, { role, seconds: ticks / ticksPerSecond });
  }
  return snapshot;
}

/**
 * CPU seconds each role spent between two snapshots. A process that started in between counts
 * whole; one that ended in between is lost (the store's and Redis's processes live throughout).
 */
function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuByRole {
  const spent: CpuByRole = {};
  for (const [pid, { role, seconds }] of after) {
    const delta = seconds - (before.get(pid)?.seconds ?? 0);
    if (delta > 0) spent[role] = (spent[role] ?? 0) + delta;
  }
  return spent;
}

/** Milliseconds of CPU per unit of work (a deactivation), per role and in total. */
function perUnitMs(spent: CpuByRole, units: number): CpuByRole {
  const perUnit: CpuByRole = {};
  let total = 0;
  for (const [role, seconds] of Object.entries(spent)) {
    perUnit[role] = Math.round((seconds * 1000 * 10) / units) / 10;
    total += seconds;
  }
  perUnit.total = Math.round((total * 1000 * 10) / units) / 10;
  return perUnit;
}

/**
 * Starts measuring the CPU of the processes with a role (`named` gives pids one); the function
 * returned gives each role's CPU milliseconds per unit of work since the start, and the total.
 */
export function measureCpu(named: Record<number, string>): (units: number) => CpuByRole {
  const before = cpuSnapshot(named);
  return (units) => perUnitMs(cpuSpent(before, cpuSnapshot(named)), units);
}

/** One line: `69.0 ms (FerretDB 25.1, PostgreSQL 18.2, …)`, largest first. */
export function describeCpu(perUnit: CpuByRole): string {
  const parts = Object.entries(perUnit)
    .filter(([role]) => role !== 'total')
    .sort((a, b) => b[1] - a[1])
    .map(([role, ms]) => `${role} ${ms.toFixed(1)}`);
  return `${(perUnit.total ?? 0).toFixed(1)} ms (${parts.join(', ')})`;
}

/** Each role's median over samples. */
export function medianCpu(samples: CpuByRole[]): CpuByRole {
  const roles = new Set(samples.flatMap((sample) => Object.keys(sample)));
  return Object.fromEntries(
    [...roles].map((role) => [role, median(samples.map((sample) => sample[role] ?? 0))]),
  );
}
