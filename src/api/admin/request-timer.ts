import type { Request, RequestHandler } from 'express';
import type { ServiceMetrics } from '../../metrics/service-metrics';

// Route templates, never raw URLs: ids in paths would give every request its own series.
function routeLabel(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (typeof route?.path === 'string') return `${req.baseUrl}${route.path}`;
  if (req.baseUrl !== '') return `${req.baseUrl}/*`;
  return 'unmatched';
}

/** Observes every request's duration by method, route template and status. */
export function requestTimer(metrics: ServiceMetrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      stop({ method: req.method, route: routeLabel(req), status: String(res.statusCode) });
    });
    next();
  };
}
