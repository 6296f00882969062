import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { createAddressPolicy } from '../../src/webhooks/address-policy';
import { parseAddressRange, type AddressRange } from '../../src/webhooks/address-range';
import { createGuardedDispatcher, type Resolver } from '../../src/webhooks/guarded-dispatcher';
import { sendWebhook } from '../../src/webhooks/send-webhook';
import { validateWebhookUrl } from '../../src/webhooks/validate-webhook-url';
import { retryDelayMs, webhookBackoff } from '../../src/webhooks/webhook-backoff';
import { AppError } from '../../src/errors/app-error';

let server: Server;
let port = 0;
let hits = 0;
const dispatchers: Dispatcher[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

/** A resolver that answers `address` for every name, as a rebinding DNS server would. */
const resolvesTo =
  (address: string): Resolver =>
  (_hostname, callback) => {
    callback(null, [{ address, family: address.includes(':') ? 6 : 4 }]);
  };

const loopback = [parseAddressRange('127.0.0.1/32')!];

function dispatcher(allowed: AddressRange[], resolve: Resolver): Dispatcher {
  const created = createGuardedDispatcher(createAddressPolicy(allowed), {
    connectTimeoutMs: 2_000,
    resolve,
  });
  dispatchers.push(created);
  return created;
}

const send = (via: Dispatcher, url: string) =>
  sendWebhook(
    via,
    {
      url,
      body: '{}',
      headers: { 'webhook-id': 'x', 'webhook-timestamp': '0', 'webhook-signature': 'v1,x' },
    },
    2_000,
  );

describe('the address check at connection time', () => {
  it('refuses a name that resolves to loopback when loopback is not allowed', async () => {
    const before = hits;
    const outcome = await send(
      dispatcher([], resolvesTo('127.0.0.1')),
      `http://hooks.example.test:${port}/`,
    );
    expect(outcome).toMatchObject({ statusCode: null, error: 'address_not_allowed' });
    const secure = await send(
      dispatcher([], resolvesTo('127.0.0.1')),
      `https://hooks.example.test:${port}/`,
    );
    expect(secure).toMatchObject({ statusCode: null, error: 'address_not_allowed' });
    expect(hits).toBe(before);
  });

  it('lets the same name through when the operator allows the address', async () => {
    const before = hits;
    const outcome = await send(
      dispatcher(loopback, resolvesTo('127.0.0.1')),
      `http://hooks.example.test:${port}/`,
    );
    expect(outcome).toMatchObject({ statusCode: 204, error: null });
    expect(hits).toBe(before + 1);
  });

  it('refuses IP literals, which Node connects to without a lookup', async () => {
    const before = hits;
    for (const host of ['127.0.0.1', 'localhost']) {
      const outcome = await send(
        dispatcher([], (name, cb) => {
          // The system's answer for localhost, without depending on /etc/hosts.
          cb(null, [{ address: name === 'localhost' ? '127.0.0.1' : name, family: 4 }]);
        }),
        `http://${host}:${port}/`,
      );
      expect([host, outcome.error]).toEqual([host, 'address_not_allowed']);
    }
    expect(hits).toBe(before);
  });

  it('catches DNS rebinding: public at creation, loopback at connection', async () => {
    const url = `https://hooks.example.test:${port}/`;
    const policy = createAddressPolicy([]);
    await expect(
      validateWebhookUrl(url, policy, resolvesTo('93.184.216.34')),
    ).resolves.toBeInstanceOf(URL);
    await expect(validateWebhookUrl(url, policy, resolvesTo('127.0.0.1'))).rejects.toMatchObject({
      code: 'url_not_allowed',
    });
    const before = hits;
    const outcome = await send(dispatcher([], resolvesTo('127.0.0.1')), url);
    expect(outcome.error).toBe('address_not_allowed');
    expect(hits).toBe(before);
  });

  it('sends plain http only to allowed addresses, never to the internet', async () => {
    const outcome = await send(
      dispatcher(loopback, resolvesTo('93.184.216.34')),
      'http://hooks.example.test/',
    );
    expect(outcome.error).toBe('address_not_allowed');
  });
});

describe('the address policy', () => {
  const policy = createAddressPolicy([parseAddressRange('10.1.0.0/16')!]);
  it.each([
    ['93.184.216.34', true],
    ['2606:2800:220:1:248:1893:25c8:1946', true],
    ['127.0.0.1', false],
    ['10.2.0.1', false],
    ['10.1.2.3', true],
    ['100.64.0.1', false],
    ['169.254.169.254', false],
    ['172.16.5.5', false],
    ['192.168.1.1', false],
    ['0.0.0.0', false],
    ['::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.1.0.9', true],
    ['fd00::1', false],
    ['fe80::1', false],
    ['not-an-ip', false],
  ])('%s permitted: %s', (address, expected) => {
    expect(policy.permits(address)).toBe(expected);
  });
});

describe('the retry schedule', () => {
  const schedule = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
  it('follows the documented schedule with ±10 % jitter', () => {
    schedule.forEach((delay, index) => {
      expect(retryDelayMs(schedule, index + 1, null, () => 0)).toBe(Math.round(delay * 0.9));
      expect(retryDelayMs(schedule, index + 1, null, () => 1)).toBe(Math.round(delay * 1.1));
    });
    const spread = new Set(Array.from({ length: 20 }, () => retryDelayMs(schedule, 2, null)));
    expect(spread.size).toBeGreaterThan(1);
  });
  it('waits at least Retry-After, at most a day of it', () => {
    expect(retryDelayMs(schedule, 1, 60_000, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(schedule, 1, 10 * 86_400_000, () => 0.5)).toBe(86_400_000);
  });
  it('is what the BullMQ backoff returns, from the failed attempt', async () => {
    const strategy = webhookBackoff(schedule);
    const error = new AppError('webhook_delivery_failed', 'x', { details: { retryDelayMs: 1234 } });
    expect(await strategy(1, 'webhook', error)).toBe(1234);
    const fallback = await strategy(3, 'webhook', new Error('crash'));
    expect(fallback).toBeGreaterThanOrEqual(1_800_000 * 0.9);
    expect(fallback).toBeLessThanOrEqual(1_800_000 * 1.1);
  });
});
