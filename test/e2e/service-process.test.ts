import { Redis } from 'ioredis';
import { connectMongo } from '../../src/infra/mongo-connection';
import { freePort } from '../../test-kit/free-port';
import { createPrivateRedis, type PrivateRedis } from '../../test-kit/private-redis';
import {
  eventually,
  startServiceProcess,
  type ServiceProcess,
} from '../../test-kit/service-process';
import { startTcpProxy, type TcpProxy } from '../../test-kit/tcp-proxy';
import { queueNames, queuePrefixFor } from '../../src/queues/queue-names';
import { deletePrefix, keysUnder } from '../../test-kit/redis-keys';
import { mongoUrl, openTestRedis, redisUrl, uniqueName, uniquePrefix } from '../support/test-env';

interface ReadyBody {
  status: string;
  checks: { mongodb: string; redis: string };
}

async function readyz(service: ServiceProcess): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(`${service.baseUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

describe('the service process (npm start) on real services', () => {
  let redis: PrivateRedis;
  let proxy: TcpProxy;
  let service: ServiceProcess;
  const dbName = uniqueName('e2eproc');
  const queuePrefix = uniqueName('q');

  beforeAll(async () => {
    // A second Redis on another port and a proxy in front of the store: the process must use
    // exactly what MONGO_URL and REDIS_URL say, and the test can take either away.
    redis = await createPrivateRedis();
    await redis.start();
    const store = new URL(mongoUrl);
    proxy = await startTcpProxy(store.hostname, Number(store.port || 27017));
    service = await startServiceProcess(
      'main',
      {
        MONGO_URL: `mongodb://127.0.0.1:${proxy.port}/${dbName}?directConnection=true`,
        REDIS_URL: redis.url,
        QUEUE_PREFIX: queuePrefix,
        LOG_LEVEL: 'info',
        SEED_DEMO_ON_EMPTY: 'true',
      },
      await freePort(),
    );
  });

  afterAll(async () => {
    await service.stop('SIGKILL');
    await proxy.close();
    await redis.kill();
    const mongo = await connectMongo(mongoUrl, { dbName });
    await mongo.dropDatabase();
    await mongo.close();
  });

  it('answers ready, seeded the empty store and uses the Redis that REDIS_URL names', async () => {
    expect(await readyz(service)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { mongodb: 'ok', redis: 'ok' } },
    });
    expect(service.output()).toMatch(/Demo API key for org_demo \(shown once\): obk_/);
    expect(service.output()).toMatch(/seeded the demo organization/);

    const mongo = await connectMongo(mongoUrl, { dbName });
    expect(
      await mongo.db!.collection('organizations').countDocuments({ _id: 'org_demo' as never }),
    ).toBe(1);
    await mongo.close();

    const privateClient = new Redis(redis.url);
    const sharedClient = openTestRedis();
    expect(await privateClient.keys(`${queuePrefix}:maintenance:*`)).not.toHaveLength(0);
    expect(await keysUnder(sharedClient, queuePrefix)).toHaveLength(0);
    privateClient.disconnect();
    sharedClient.disconnect();
  });

  it('answers 503 naming Redis while Redis is down, and recovers when it is back', async () => {
    await redis.kill();
    await eventually(async () => (await readyz(service)).status === 503, 10_000, 'readyz 503');
    const down = await readyz(service);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.checks.mongodb).toBe('ok');
    expect(down.body.checks.redis).not.toBe('ok');

    await redis.start();
    await eventually(
      async () => (await readyz(service)).status === 200,
      15_000,
      'readyz 200 after Redis',
    );
  });

  it('answers 503 naming MongoDB while the store is unreachable, and recovers when it is back', async () => {
    await proxy.cut();
    await eventually(async () => (await readyz(service)).status === 503, 10_000, 'readyz 503');
    const down = await readyz(service);
    expect(down.body.checks.mongodb).not.toBe('ok');
    expect(down.body.checks.redis).toBe('ok');

    await proxy.restore();
    await eventually(
      async () => (await readyz(service)).status === 200,
      20_000,
      'readyz 200 after MongoDB',
    );
  });

  it('shuts down gracefully on SIGTERM with exit code 0', async () => {
    const code = await service.stop('SIGTERM');
    expect(code).toBe(0);
    expect(service.output()).toMatch(/"msg":"shut down"/);
  });
});

describe('the image’s default command (the main entry) on an empty store', () => {
  const dbName = uniqueName('e2enoseed');
  const queuePrefix = uniquePrefix('q');
  let service: ServiceProcess;

  afterAll(async () => {
    await service.stop('SIGKILL');
    const redis = openTestRedis();
    await deletePrefix(redis, queuePrefix);
    redis.disconnect();
    const mongo = await connectMongo(mongoUrl, { dbName });
    await mongo.dropDatabase();
    await mongo.close();
  });

  it('seeds nothing and prints no key unless SEED_DEMO_ON_EMPTY=true', async () => {
    const store = new URL(mongoUrl);
    store.pathname = `/${dbName}`;
    service = await startServiceProcess(
      'main',
      { MONGO_URL: store.toString(), REDIS_URL: redisUrl, QUEUE_PREFIX: queuePrefix },
      await freePort(),
    );
    expect((await readyz(service)).status).toBe(200);
    // The workers have started (their schedulers exist), so start-up is over.
    const redis = openTestRedis();
    await eventually(
      async () =>
        (await keysUnder(redis, queuePrefix)).some((key) =>
          key.startsWith(`${queuePrefixFor(queuePrefix, queueNames.maintenance)}:maintenance:`),
        ),
      10_000,
      'the workers',
    );
    redis.disconnect();
    expect(service.output()).not.toMatch(/Demo API key|obk_|seeded the demo/);
    const mongo = await connectMongo(mongoUrl, { dbName });
    expect(await mongo.db!.collection('organizations').countDocuments({})).toBe(0);
    expect(await mongo.db!.collection('apiKeys').countDocuments({})).toBe(0);
    await mongo.close();
  });
});
