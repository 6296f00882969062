import express, { type Express } from 'express';
import type { AppConfig } from '../../config/config';
import type { ServiceMetrics } from '../../metrics/service-metrics';
import type { Models } from '../../models/create-models';
import { errorHandler, notFoundHandler } from '../error-handler';
import { adminGuard } from './admin-guard';
import { metricsHandler } from './metrics-handler';

/**
 * The HTTP surface of a worker-only process: `/metrics`, guarded like the API's, on
 * `METRICS_PORT`. Prometheus scrapes each process, since step and run counters live where the
 * jobs run.
 */
export function createMetricsApp(deps: {
  dashboard: AppConfig['dashboard'];
  models: Models;
  metrics: ServiceMetrics;
}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/metrics', adminGuard(deps.dashboard, deps.models), metricsHandler(deps.metrics));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
