/**
 * The API floor: a bare Express app with the same JSON body parsing as offboard
 * (src/api/mount-routes.ts: express.json, 100 kB, strict) and a zod parse of the same schemas,
 * answering the very bodies offboard answered. No authentication, no store, no logging.
 *
 *   node --import tsx bench/support/bare-api.ts <port> <file with {dryRun, run} bodies>
 */
import { readFileSync } from 'node:fs';
import express from 'express';
import { orgParamsSchema } from '../../src/api/schemas/common-schemas';
import {
  deactivationBodySchema,
  deactivationQuerySchema,
  runParamsSchema,
} from '../../src/api/schemas/deactivation-schemas';

const [port = '0', bodiesFile = ''] = process.argv.slice(2);
const bodies = JSON.parse(readFileSync(bodiesFile, 'utf8')) as { dryRun: unknown; run: unknown };

const app = express();
app.disable('x-powered-by');
app.set('query parser', 'simple');
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post(
  '/v1/orgs/:orgId/deactivations',
  express.json({ limit: '100kb', strict: true }),
  (req, res) => {
    orgParamsSchema.parse(req.params);
    deactivationQuerySchema.parse(req.query);
    deactivationBodySchema.parse(req.body);
    res.status(200).json(bodies.dryRun);
  },
);
app.get('/v1/orgs/:orgId/deactivations/:id', (req, res) => {
  runParamsSchema.parse(req.params);
  res.status(200).json(bodies.run);
});
app.listen(Number(port), '127.0.0.1');
