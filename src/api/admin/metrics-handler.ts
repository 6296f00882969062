import type { RequestHandler } from 'express';
import type { ServiceMetrics } from '../../metrics/service-metrics';

/** `GET /metrics` in Prometheus's text format. */
export function metricsHandler(metrics: ServiceMetrics): RequestHandler {
  return async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  };
}
