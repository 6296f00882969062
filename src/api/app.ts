import { randomUUID } from 'node:crypto';
import type { FlowProducer, Queue } from 'bullmq';
import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import { pinoHttp } from 'pino-http';
import { configureApiKeyCache } from '../auth/api-key-cache';
import { createRedisLock } from '../infra/redis-lock';
import {
  consoleDefaults,
  type AppConfig,
  type ConsoleConfig,
  type SecurityConfig,
  type WebhookConfig,
} from '../config/config';
import type { Logger } from '../logging/logger';
import type { ServiceMetrics } from '../metrics/service-metrics';
import type { Models } from '../models/create-models';
import { loggableUrl } from '../scim/loggable-url';
import { scimRouter } from '../scim/scim-router';
import { adminGuard, sameOriginGuard } from './admin/admin-guard';
import { metricsHandler } from './admin/metrics-handler';
import { dashboardPath, queueDashboard } from './admin/queue-dashboard';
import { requestTimer } from './admin/request-timer';
import { createAuthThrottle } from './auth-throttle';
import { consolePath, consoleRouter } from './console/console-router';
import { errorHandler, notFoundHandler } from './error-handler';
import { healthRoutes } from './health-routes';
import { mountRoutes } from './mount-routes';
import { buildOpenApiDocument } from './openapi';
import type { RouteDefinition } from './route-definition';
import { securityHeaders } from './security-headers';
import { bulkItemRoutes } from './routes/bulk-item-routes';
import { bulkRoutes } from './routes/bulk-routes';
import { deactivationRoutes } from './routes/deactivation-routes';
import { deletionRoutes } from './routes/deletion-routes';
import { purchaseRoutes } from './routes/purchase-routes';
import { reactivationRoutes } from './routes/reactivation-routes';
import { sweepPolicyRoutes } from './routes/sweep-policy-routes';
import { sweepRoutes } from './routes/sweep-routes';
import { userRoutes } from './routes/user-routes';
import { webhookRoutes } from './routes/webhook-routes';
import type { RedisClient } from '../infra/redis-connection';
import type { Producers } from '../queues/producers';

/** What the HTTP layer needs; built by the entry point's composition root. */
export interface ApiDeps {
  mongo: Connection;
  models: Models;
  redis: RedisClient;
  flows: FlowProducer;
  /** Producer of bulk-deactivation jobs. */
  bulkQueue: Queue;
  /** Holds the sweep job schedulers. */
  sweepsQueue: Queue;
  /** Every queue, for the dashboard and the depth metrics. */
  queues: readonly Queue[];
  /** Credentials of the operator surfaces; `null` turns them off. */
  dashboard: AppConfig['dashboard'];
  /** Throttling and caps (README, Security). */
  security: SecurityConfig;
  /** The queues' key prefix; the throttle's and the locks' Redis keys live under it too. */
  queuePrefix: string;
  metrics: ServiceMetrics;
  logger: Logger;
  /** Webhook settings (SECRETS_KEY, allowed addresses); absent, creating a webhook is refused. */
  webhooks?: WebhookConfig;
  /** The admin console's sessions; the configuration's defaults when absent. */
  console?: ConsoleConfig;
}

/** What a process has open when it builds its API. */
export interface ApiConnections {
  mongo: Connection;
  models: Models;
  redis: RedisClient;
  producers: Producers;
  metrics: ServiceMetrics;
  logger: Logger;
}

/**
 * The API as a process builds it: its open connections and the settings of `config`. The
 * composition root and the tests' harness both build it here, so they cannot drift apart.
 */
export function createAppFromConfig(config: AppConfig, open: ApiConnections): Express {
  return createApp({
    mongo: open.mongo,
    models: open.models,
    redis: open.redis,
    logger: open.logger,
    metrics: open.metrics,
    dashboard: config.dashboard,
    security: config.security,
    queuePrefix: config.queuePrefix,
    webhooks: config.webhooks,
    console: config.console,
    ...open.producers,
  });
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

/** Every `/v1` route, in one list: mounted and documented from the same definitions. */
export function apiRoutes(deps: ApiDeps): RouteDefinition[] {
  return [
    ...deactivationRoutes(deps),
    ...reactivationRoutes(deps),
    ...purchaseRoutes(deps),
    ...deletionRoutes(deps),
    ...userRoutes(deps),
    ...bulkRoutes(deps),
    ...bulkItemRoutes(deps),
    ...sweepRoutes(deps),
    ...sweepPolicyRoutes(deps),
    ...webhookRoutes(deps),
  ];
}

/** Builds the Express application. No I/O happens here; the caller listens. */
export function createApp(deps: ApiDeps): Express {
  configureApiKeyCache(deps.models.apiKeys, deps.security.apiKeyCacheSeconds * 1000);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.security.trustProxy);
  app.use(securityHeaders());
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const header = req.headers['x-request-id'];
        const id =
          typeof header === 'string' && requestIdPattern.test(header) ? header : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Set by the routes that create or read a run, so a run can be followed from its POST.
      customProps: (_req, res) => {
        const { runId } = res.locals as { runId?: unknown };
        return typeof runId === 'string' ? { runId } : {};
      },
      customLogLevel: (_req, res, error) =>
        error !== undefined || res.statusCode >= 500 ? 'error' : 'info',
      serializers: {
        req: (req: { id: unknown; method: unknown; url: unknown }) => ({
          id: req.id,
          method: req.method,
          url: typeof req.url === 'string' ? loggableUrl(req.url) : req.url,
        }),
        res: (res: { statusCode: unknown }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(requestTimer(deps.metrics));
  app.use(healthRoutes(deps));
  const throttle = createAuthThrottle(deps.redis, {
    ...deps.security,
    keyPrefix: deps.queuePrefix,
  });
  const guard = adminGuard(deps.dashboard, deps.models, throttle);
  app.get('/metrics', guard, metricsHandler(deps.metrics));
  app.use(dashboardPath, guard, sameOriginGuard, queueDashboard(deps));
  app.use(
    consolePath,
    consoleRouter({
      ...deps,
      console: deps.console ?? {
        sessionIdleSeconds: consoleDefaults.sessionIdleMinutes * 60,
        sessionMaxSeconds: consoleDefaults.sessionMaxHours * 3600,
      },
      throttle,
    }),
  );
  // SCIM has its own authentication (the `scim` scope) and error shape (docs/scim.md).
  const locks = createRedisLock(deps.redis, {
    prefix: deps.flows.opts.prefix ?? 'bull',
    waitMs: 5_000,
  });
  app.use('/scim', scimRouter({ ...deps, throttle, locks }));
  const routes = apiRoutes(deps);
  const openApiDocument = buildOpenApiDocument(routes);
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  mountRoutes(app, routes, deps.models, throttle);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
