import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { freePort } from './free-port';

/** A redis-server process of the test's own on a free loopback port. */
export interface PrivateRedis {
  port: number;
  url: string;
  start: () => Promise<void>;
  /** SIGKILL: the way a crash looks to clients. */
  kill: () => Promise<void>;
  /** `SHUTDOWN SAVE`: a clean restart keeps the data when `--dir` is given. */
  shutdown: () => Promise<void>;
}

export async function createPrivateRedis(extraArgs: string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      throw new Error('this private Redis is already running');
    }
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
        ...extraArgs,
      ],
      { stdio: 'ignore' },
    );
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined); // refused until the server listens; connect() reports it
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    probe.disconnect();
  };

  const kill = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running?.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };

  const shutdown = async (): Promise<void> => {
    const running = child;
    child = null;
    if (running?.exitCode !== null) return;
    const exited = once(running, 'exit');
    const client = new Redis(port, '127.0.0.1', {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    await client.call('SHUTDOWN', 'SAVE').catch(() => undefined); // the reply is the closed socket
    client.disconnect();
    await exited;
  };

  return { port, url: `redis://127.0.0.1:${port}`, start, kill, shutdown };
}
