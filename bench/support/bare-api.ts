/**
 * The API floors: a bare Express app with the same JSON body parsing as offboard
 * (src/api/mount-routes.ts: express.json, 100 kB, strict) and a zod parse of the same schemas,
 * answering the very bodies offboard answered. No authentication logic, no logging.
 *
 * - `none`: no store at all (context: what Express and JSON cost alone);
 * - `store`: the floor of the issue. Each request issues, with the plain mongodb driver, the
 *   store reads its answer needs: the API key by its hash, then for the dry run the facts of the
 *   rules (organization, user, actor, the teams the user leads and is in) together, then the
 *   plan's reads together (the teams' leaders, the three counts, the blocklist entry); for GET
 *   the run. A read that finds nothing answers 500, which fails the load.
 *
 *   node --import tsx bench/support/bare-api.ts <port> <file with {dryRun, run} bodies> none
 *   node --import tsx bench/support/bare-api.ts <port> <file> store <mongo url> <db name>
 */
import { readFileSync } from 'node:fs';
import express, { type Request } from 'express';
import { MongoClient, type Db } from 'mongodb';
import { orgParamsSchema } from '../../src/api/schemas/common-schemas';
import {
  deactivationBodySchema,
  deactivationQuerySchema,
  runParamsSchema,
} from '../../src/api/schemas/deactivation-schemas';
import { hashApiKey } from '../../src/auth/api-key-secret';
import { hashEmail } from '../../src/domain/email';
import { cancellableSubscriptionStatuses } from '../../src/models/subscription.model';

const [port = '0', bodiesFile = '', mode = 'none', mongoUrl = '', dbName = ''] =
  process.argv.slice(2);
const bodies = JSON.parse(readFileSync(bodiesFile, 'utf8')) as { dryRun: unknown; run: unknown };

type Doc = { _id: string } & Record<string, unknown>;

/** The key by the hash of the presented bearer token, as src/auth/api-key-repository.ts does. */
async function keyLookup(db: Db, req: Request): Promise<void> {
  const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const key = await db
    .collection<Doc>('apiKeys')
    .findOne({ keyHash: hashApiKey(presented), revokedAt: null });
  if (!key) throw new Error('no key');
}

async function dryRunReads(db: Db, orgId: string, userId: string, actorId: string): Promise<void> {
  const now = new Date();
  const users = db.collection<Doc>('users');
  const teams = db.collection<Doc & { leaderId?: string | null }>('teams');
  const teamFields = { projection: { _id: 1, leaderId: 1, createdAt: 1 } };
  const [org, user, actor, led, member] = await Promise.all([
    db.collection<Doc>('organizations').findOne({ _id: orgId }, { projection: { _id: 1 } }),
    users.findOne({ _id: userId, orgId }),
    users.findOne({ _id: actorId, orgId }),
    teams.find({ orgId, leaderId: userId }, teamFields).sort({ createdAt: 1, _id: 1 }).toArray(),
    teams
      .find(
        { orgId, memberIds: userId },
        { projection: { ...teamFields.projection, memberIds: 1 } },
      )
      .toArray(),
  ]);
  if (!org || !user || !actor || led.length > 0) throw new Error('unexpected facts');
  const leaders = [...new Set(member.flatMap((team) => (team.leaderId ? [team.leaderId] : [])))];
  const email = typeof user.email === 'string' ? user.email : '';
  await Promise.all([
    ...leaders.map((_id) =>
      users.findOne({ _id, orgId, status: 'active' }, { projection: { _id: 1 } }),
    ),
    db
      .collection('tokens')
      .countDocuments({ userId, orgId, revokedAt: null, issuedAt: { $lte: now } }),
    db
      .collection('subscriptions')
      .countDocuments({ userId, orgId, status: { $in: cancellableSubscriptionStatuses } }),
    db.collection('opportunities').countDocuments({ ownerId: userId, orgId, status: 'open' }),
    db
      .collection('blocklist')
      .findOne({ orgId, emailHash: hashEmail(email) }, { projection: { emailHash: 1 } }),
  ]);
}

async function main(): Promise<void> {
  const client = mode === 'store' ? await MongoClient.connect(mongoUrl, { maxPoolSize: 20 }) : null;
  const db = client?.db(dbName) ?? null;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.post(
    '/v1/orgs/:orgId/deactivations',
    express.json({ limit: '100kb', strict: true }),
    async (req, res) => {
      const params = orgParamsSchema.parse(req.params);
      deactivationQuerySchema.parse(req.query);
      const body = deactivationBodySchema.parse(req.body);
      if (db) {
        await keyLookup(db, req);
        await dryRunReads(db, params.orgId, body.userId, body.actorId);
      }
      res.status(200).json(bodies.dryRun);
    },
  );
  app.get('/v1/orgs/:orgId/deactivations/:id', async (req, res) => {
    const params = runParamsSchema.parse(req.params);
    if (db) {
      await keyLookup(db, req);
      const run = await db
        .collection<Doc>('deactivations')
        .findOne({ _id: params.id, orgId: params.orgId });
      if (!run) throw new Error('no run');
    }
    res.status(200).json(bodies.run);
  });
  app.listen(Number(port), '127.0.0.1');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
