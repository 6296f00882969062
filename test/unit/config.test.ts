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
      queuePrefix: 'offboard',
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
});
