import net from 'node:net';
import { freePort } from './free-port';

/**
 * A TCP proxy on loopback in front of a real server, for fault injection: `cut()` drops every
 * live connection and refuses new ones until `restore()`.
 */
export interface TcpProxy {
  port: number;
  cut: () => Promise<void>;
  restore: () => Promise<void>;
  close: () => Promise<void>;
}

/**
 * Copies `from` to `to`, each chunk `latencyMs` later, in order (a chunk never overtakes the one
 * before it).
 */
function pipeWithLatency(from: net.Socket, to: net.Socket, latencyMs: () => number): void {
  // One ordered queue per direction, drained by one timer at a time: separate timers per chunk
  // may fire out of order, which would corrupt the byte stream.
  const queue: { due: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const drain = (): void => {
    timer = null;
    for (let head = queue[0]; head !== undefined; head = queue[0]) {
      const wait = head.due - Date.now();
      if (wait > 0) {
        timer = setTimeout(drain, wait);
        return;
      }
      queue.shift();
      if (!to.destroyed) to.write(head.chunk);
    }
  };
  from.on('data', (chunk: Buffer) => {
    const last = queue.at(-1)?.due ?? 0;
    queue.push({ due: Math.max(Date.now() + latencyMs(), last), chunk });
    if (timer === null) drain();
  });
}

export async function startTcpProxy(
  targetHost: string,
  targetPort: number,
  options: { latencyMs?: () => number } = {},
): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const created = net.createServer((client) => {
        const upstream = net.connect(targetPort, targetHost);
        sockets.add(client).add(upstream);
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        if (options.latencyMs) {
          pipeWithLatency(client, upstream, options.latencyMs);
          pipeWithLatency(upstream, client, options.latencyMs);
        } else {
          client.pipe(upstream).pipe(client);
        }
      });
      created.once('error', reject);
      created.listen(port, '127.0.0.1', () => {
        server = created;
        resolve();
      });
    });

  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server) {
        resolve();
        return;
      }
      server.close(() => {
        resolve();
      });
      server = null;
    });

  await listen();
  return { port, cut: stop, restore: listen, close: stop };
}
