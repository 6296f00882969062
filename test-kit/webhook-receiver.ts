import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got. */
export interface ReceivedWebhook {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  at: number;
  /** Whether `Webhook.verify` accepted it with the secret(s) known when it arrived. */
  verified: boolean;
  /** The status the receiver answered with. */
  status: number;
}

/** How the receiver answers: a status, headers, and an optional delay before answering. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** A real HTTP receiver on 127.0.0.1 that verifies every signature with `standardwebhooks`. */
export interface WebhookReceiver {
  url: (path?: string) => string;
  port: number;
  received: ReceivedWebhook[];
  /** Secrets to verify with; any one of them verifying counts. */
  secrets: string[];
  /** Decides each answer; 204 by default. `attempt` counts this webhook-id's requests (1, 2…). */
  answer: (request: ReceivedWebhook, attempt: number) => Answer;
  /** Stops listening (the port stays reserved for `start`). */
  stop: () => Promise<void>;
  /** Listens again on the same port. */
  start: () => Promise<void>;
  close: () => Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

const header = (req: IncomingMessage, name: string): string => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : '';
};

/** Opens a receiver; `close` ends it. */
export async function openWebhookReceiver(): Promise<WebhookReceiver> {
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const receiver: WebhookReceiver = {
    url: (path = '/hook') => `http://127.0.0.1:${receiver.port}${path}`,
    port: 0,
    received: [],
    secrets: [],
    answer: () => ({ status: 204 }),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
    start: async () => {
      server.listen(receiver.port, '127.0.0.1');
      await new Promise<void>((resolve) => server.once('listening', resolve));
    },
    close: () => receiver.stop(),
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const got: ReceivedWebhook = {
      path: req.url ?? '',
      id: header(req, 'webhook-id'),
      timestamp: header(req, 'webhook-timestamp'),
      signature: header(req, 'webhook-signature'),
      body,
      at: Date.now(),
      verified: false,
      status: 0,
    };
    got.verified = receiver.secrets.some((secret) => {
      try {
        new Webhook(secret).verify(body, {
          'webhook-id': got.id,
          'webhook-timestamp': got.timestamp,
          'webhook-signature': got.signature,
        });
        return true;
      } catch {
        return false;
      }
    });
    receiver.received.push(got);
    const attempt = (attempts.get(got.id) ?? 0) + 1;
    attempts.set(got.id, attempt);
    const answer = receiver.answer(got, attempt);
    got.status = answer.status;
    if (answer.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    }
    if (res.destroyed) return;
    res.writeHead(answer.status, answer.headers ?? {});
    res.end();
  };
  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  return receiver;
}

/** Verifies one received request with one secret alone. */
export function verifiesWith(secret: string, got: ReceivedWebhook): boolean {
  try {
    new Webhook(secret).verify(got.body, {
      'webhook-id': got.id,
      'webhook-timestamp': got.timestamp,
      'webhook-signature': got.signature,
    });
    return true;
  } catch {
    return false;
  }
}
