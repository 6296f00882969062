import express, { type Express } from 'express';
import type { AppConfig, SecurityConfig } from '../../config/config';
import type { ServiceMetrics } from '../../metrics/service-metrics';
import type { Models } from '../../models/create-models';
import { createAuthThrottle } from '../auth-throttle';
import { errorHandler, notFoundHandler } from '../error-handler';
import { securityHeaders } from '../security-headers';
import { adminGuard } from './admin-guard';
import { metricsHandler } from './metrics-handler';
import type { RedisClient } from '../../infra/redis-connection';

/**
 * The HTTP surface of a worker-only process: `/metrics`, guarded like the API's, on
 * `METRICS_PORT`. Prometheus scrapes each process, since step and run counters live where the
 * jobs run.
 */
export function createMetricsApp(deps: {
  dashboard: AppConfig['dashboard'];
  models: Models;
  metrics: ServiceMetrics;
  /** Shares the failed-sign-in counts with the API processes. */
  redis: RedisClient;
  security: SecurityConfig;
  queuePrefix: string;
}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.security.trustProxy);
  app.use(securityHeaders());
  const throttle = createAuthThrottle(deps.redis, {
    ...deps.security,
    keyPrefix: deps.queuePrefix,
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get(
    '/metrics',
    adminGuard(deps.dashboard, deps.models, throttle),
    metricsHandler(deps.metrics),
  );
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
