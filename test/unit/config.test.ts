import { loadConfig } from '../../src/config/config';
import { AppError } from '../../src/errors/app-error';

describe('loadConfig', () => {
  it('applies the local defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      mongoUrl: 'mongodb://127.0.0.1:27017/offboard',
      redisUrl: 'redis://127.0.0.1:6379',
      port: 3000,
      logLevel: 'info',
      dashboard: null,
      queuePrefix: '{offboard}',
    });
  });

  it('lets MONGO_URL and REDIS_URL win over the defaults', () => {
    const config = loadConfig({
      MONGO_URL: 'mongodb://db.internal:27017/prod',
      REDIS_URL: 'rediss://cache:6380',
    });
    expect(config.mongoUrl).toBe('mongodb://db.internal:27017/prod');
    expect(config.redisUrl).toBe('rediss://cache:6380');
  });

  it('reads a redis+cluster:// URL as the nodes of a Redis Cluster', () => {
    const config = loadConfig({
      REDIS_URL: 'redis+cluster://ops:s%40cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002',
    });
    expect(config.redis).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'ops',
      password: 's@cret',
      tls: false,
    });
    expect(loadConfig({ REDIS_URL: 'rediss+cluster://cache:6380' }).redis).toMatchObject({
      mode: 'cluster',
      tls: true,
    });
    expect(loadConfig({}).redis).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
    for (const bad of ['redis+cluster://', 'redis+cluster://a:1,b', 'redis+cluster://a:99999']) {
      expect(() => loadConfig({ REDIS_URL: bad })).toThrow(/REDIS_URL/);
    }
  });

  it('requires a {hash tag} in QUEUE_PREFIX on a Redis Cluster, and allows at most one', () => {
    const cluster = 'redis+cluster://127.0.0.1:7000';
    expect(() => loadConfig({ REDIS_URL: cluster, QUEUE_PREFIX: 'offboard' })).toThrow(
      /QUEUE_PREFIX: on a Redis Cluster .* needs a \{hash tag\}/,
    );
    expect(loadConfig({ REDIS_URL: cluster, QUEUE_PREFIX: 'acme{jobs}' }).queuePrefix).toBe(
      'acme{jobs}',
    );
    // A single server takes any prefix, as before.
    expect(loadConfig({ QUEUE_PREFIX: 'offboard' }).queuePrefix).toBe('offboard');
    for (const bad of ['{a}{b}', '{}', 'a:b', '{open']) {
      expect(() => loadConfig({ QUEUE_PREFIX: bad })).toThrow(/QUEUE_PREFIX/);
    }
  });

  it('coerces PORT and treats blank variables as unset', () => {
    expect(loadConfig({ PORT: '8080', LOG_LEVEL: '' })).toMatchObject({
      port: 8080,
      logLevel: 'info',
    });
  });

  it('reports every bad variable at once with a config_invalid error', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'eighty', MONGO_URL: 'postgres://x', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    const error = caught as AppError;
    expect(error.code).toBe('config_invalid');
    expect(error.message).toMatch(/PORT/);
    expect(error.message).toMatch(/MONGO_URL: must be a mongodb/);
    expect(error.message).toMatch(/LOG_LEVEL/);
    expect(error.details).toHaveLength(3);
  });

  it('requires the dashboard credentials together', () => {
    expect(() => loadConfig({ DASHBOARD_USERNAME: 'ops' })).toThrow(/set both or neither/);
    expect(
      loadConfig({ DASHBOARD_USERNAME: 'ops', DASHBOARD_PASSWORD: 'long-enough' }).dashboard,
    ).toEqual({
      username: 'ops',
      password: 'long-enough',
    });
  });

  it('rejects a port out of range', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
  });

  it('reads the throttling, the bulk cap and the trusted proxies, with safe defaults', () => {
    expect(loadConfig({}).security).toEqual({
      authFailureLimit: 10,
      authFailureWindowSeconds: 900,
      maxPendingBulksPerOrg: 5,
      apiKeyCacheSeconds: 5,
      trustProxy: false,
    });
    expect(
      loadConfig({
        AUTH_FAILURE_LIMIT: '3',
        AUTH_FAILURE_WINDOW_SECONDS: '60',
        MAX_PENDING_BULKS_PER_ORG: '2',
        API_KEY_CACHE_SECONDS: '0',
        TRUST_PROXY: '1',
      }).security,
    ).toEqual({
      authFailureLimit: 3,
      authFailureWindowSeconds: 60,
      maxPendingBulksPerOrg: 2,
      apiKeyCacheSeconds: 0,
      trustProxy: 1,
    });
    expect(loadConfig({ TRUST_PROXY: 'loopback,10.0.0.0/8' }).security.trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
    ]);
    expect(() => loadConfig({ AUTH_FAILURE_LIMIT: '0' })).toThrow(/AUTH_FAILURE_LIMIT/);
    expect(() => loadConfig({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ API_KEY_CACHE_SECONDS: '61' })).toThrow(/API_KEY_CACHE_SECONDS/);
  });
});
