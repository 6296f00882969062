import { Router } from 'express';
import type { Connection } from 'mongoose';
import { checkReadiness } from '../infra/readiness';
import type { RedisClient } from '../infra/redis-connection';

/** `/healthz` (the process answers) and `/readyz` (MongoDB and Redis answer). */
export function healthRoutes(deps: { mongo: Connection; redis: RedisClient }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const readiness = await checkReadiness(deps.mongo, deps.redis);
    res.status(readiness.ready ? 200 : 503).json({
      status: readiness.ready ? 'ready' : 'unavailable',
      checks: readiness.checks,
    });
  });
  return router;
}
