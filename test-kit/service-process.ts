import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { freePort } from './free-port';

const root = path.join(__dirname, '..');

/** The real service, started as `npm start` would start it (minus the services script). */
export interface ServiceProcess {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  /** Sends `signal` and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function startServiceProcess(
  entry: 'main' | 'api-main' | 'worker-main',
  env: Record<string, string>,
  port: number,
): Promise<ServiceProcess> {
  const child = spawn(
    process.execPath,
    // tsx as a loader, not its CLI: the CLI runs the service as a child of its own, which a
    // SIGKILL of the CLI would leave running.
    ['--import', 'tsx', path.join(root, `src/entry/${entry}.ts`)],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code] = (await exited) as [number | null];
    return code;
  };
  if (entry !== 'worker-main') {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the service exited early:\n${output}`);
      try {
        const response = await fetch(`${baseUrl}/healthz`);
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stop('SIGKILL');
        throw new Error(`the service did not start within 30 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return { child, baseUrl, output: () => output, stop };
}

/** Starts a worker process (`npm run start:worker`); workers do not listen, the port is unused. */
export async function startWorkerProcess(env: Record<string, string>): Promise<ServiceProcess> {
  return startServiceProcess('worker-main', env, await freePort());
}

/** The pids of `pid`'s descendants, deepest first. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  } catch {
    children = []; // pgrep exits 1 when there is none
  }
  return children.flatMap((child) => [...descendants(child), child]);
}

/** Whether the process (the tsx wrapper) is still running. */
export const isRunning = (service: ServiceProcess): boolean =>
  service.child.exitCode === null && service.child.signalCode === null;

/**
 * SIGKILLs the service for real. `startServiceProcess` runs the entry under the tsx CLI, which
 * runs it in a child process of its own: a SIGKILL of the wrapper (what `stop('SIGKILL')` sends)
 * cannot be relayed and leaves the service itself running, orphaned. This kills the service's
 * process first, then the wrapper, and resolves once the wrapper is gone.
 */
export async function killService(service: ServiceProcess): Promise<void> {
  const { child } = service;
  if (!isRunning(service) || child.pid === undefined) return;
  const exited = once(child, 'exit');
  for (const pid of descendants(child.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (isRunning(service)) child.kill('SIGKILL');
  await exited;
}

/** Polls `probe` until it returns true or `timeoutMs` passes. */
export async function eventually(
  probe: () => Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
