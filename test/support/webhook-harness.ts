import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import request, { type Response } from 'supertest';
import { createApiKey } from '../../src/auth/api-key-repository';
import type { Models } from '../../src/models/create-models';
import type { WebhookDelivery } from '../../src/models/webhook-delivery.model';
import { createLogger } from '../../src/logging/logger';
import { createServiceMetrics, type ServiceMetrics } from '../../src/metrics/service-metrics';
import { openApiHarness, type ApiHarness } from './api-harness';
import { startTestWorkers } from './run-helpers';

/** The webhook settings of the tests: a key, loopback allowed, a schedule in milliseconds. */
export function webhookTestEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    SECRETS_KEY: randomBytes(32).toString('base64'),
    WEBHOOK_ALLOWED_ADDRESSES: '127.0.0.1/32',
    WEBHOOK_RETRY_SCHEDULE_MS: '50,50,50,50',
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_RELAY_INTERVAL_MS: '50',
    ...overrides,
  };
}

/** The API on a real port and real workers, sharing one prefix and one webhook configuration. */
export interface WebhookHarness {
  h: ApiHarness;
  server: Server;
  /** An `admin` key for every organization. */
  adminKey: string;
  workerMetrics: ServiceMetrics;
  /** The workers' log lines, parsed. */
  workerLogs: Record<string, unknown>[];
  call: (
    method: 'get' | 'post' | 'patch' | 'delete',
    path: string,
    body?: unknown,
  ) => Promise<Response>;
  close: () => Promise<void>;
}

export async function openWebhookHarness(
  tag: string,
  env: Record<string, string> = webhookTestEnv(),
  options: { workers?: boolean } = {},
): Promise<WebhookHarness> {
  const h = await openApiHarness(tag, env);
  const workerMetrics = createServiceMetrics([]);
  const workerLogs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') workerLogs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const workers =
    options.workers === false
      ? null
      : await startTestWorkers(
          h.store,
          { ...env, QUEUE_PREFIX: h.config.queuePrefix },
          { metrics: workerMetrics, logger: createLogger({ logLevel: 'info' }, sink) },
        );
  const server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const adminKey = (
    await createApiKey(h.models, {
      name: 'admin',
      scopes: ['admin', 'write', 'delete', 'read'],
      orgIds: ['*'],
    })
  ).key;
  return {
    h,
    server,
    adminKey,
    workerMetrics,
    workerLogs,
    call: (method, path, body) => {
      const req = request(server)[method](path).set('Authorization', `Bearer ${adminKey}`);
      return body === undefined ? req : req.send(body as object);
    },
    close: async () => {
      await workers?.close();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      await h.close();
    },
  };
}

/** Polls until `predicate` holds on the delivery of `eventId`; returns it then. */
export async function waitForDelivery(
  models: Models,
  filter: Record<string, unknown>,
  predicate: (delivery: WebhookDelivery) => boolean,
  timeoutMs = 15_000,
): Promise<WebhookDelivery> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const delivery = await models.webhookDeliveries.findOne(filter).lean();
    if (delivery && predicate(delivery)) return delivery;
    if (Date.now() > deadline) {
      throw new Error(`delivery did not get there: ${JSON.stringify(delivery)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Polls until `check` returns true. On a timeout the error carries what `explain` says of the
 * state then, so a slow or stuck wait says where it stopped.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  explain?: () => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const state = explain ? `: ${JSON.stringify(await explain())}` : '';
      throw new Error(`condition not met in ${timeoutMs} ms${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
