/**
 * POST → completed for one user with 100 tokens, 20 subscriptions, 200 opportunities and
 * 5 teams, through the real HTTP API and workers on the configured store and Redis.
 * Prints each run and the median. `npm run bench:latency -- --runs 7`
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { createApp } from '../src/api/app';
import { createApiKey } from '../src/auth/api-key-repository';
import { loadConfig } from '../src/config/config';
import { closeServer, listen } from '../src/entry/http-server';
import { connectMongo } from '../src/infra/mongo-connection';
import { createRedisConnection } from '../src/infra/redis-connection';
import { createLogger } from '../src/logging/logger';
import { createModels, ensureIndexes, type Models } from '../src/models/create-models';
import { createServiceMetrics } from '../src/metrics/service-metrics';
import { createProducers } from '../src/queues/producers';
import { startWorkers } from '../src/workers/start-workers';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const tag = randomBytes(3).toString('hex');
const orgId = `org_bench_${tag}`;

async function seedUser(
  models: Models,
  index: number,
): Promise<{ userId: string; actorId: string }> {
  const userId = `usr_${tag}_${index}`;
  const now = Date.now();
  const leaders = Array.from({ length: 5 }, (_, team) => ({
    _id: `lead_${tag}_${index}_${team}`,
    orgId,
    kind: 'employee',
    email: `lead${team}.${index}@bench.example`,
    firstName: 'Lead',
    lastName: String(team),
    role: 'manager',
    status: 'active',
    lastLoginAt: new Date(),
    createdAt: new Date(),
    allowReactivationOnPurchase: false,
  }));
  await models.users.insertMany([
    ...leaders,
    {
      _id: userId,
      orgId,
      kind: 'employee',
      email: `user.${index}@bench.example`,
      firstName: 'Bench',
      lastName: 'User',
      role: 'member',
      status: 'active',
      lastLoginAt: new Date(),
      createdAt: new Date(),
      allowReactivationOnPurchase: false,
    },
  ]);
  await models.teams.insertMany(
    leaders.map((leader, team) => ({
      _id: `team_${tag}_${index}_${team}`,
      orgId,
      name: `Team ${team}`,
      leaderId: leader._id,
      memberIds: [userId, `other_${team}`],
      createdAt: new Date(now - (10 - team) * 1000),
    })),
  );
  const types = ['session', 'refresh', 'api_key'] as const;
  await models.tokens.insertMany(
    Array.from({ length: 100 }, (_, i) => ({
      _id: `tok_${tag}_${index}_${i}`,
      orgId,
      userId,
      type: types[i % 3],
      issuedAt: new Date(now - 60_000),
      expiresAt: null,
      revokedAt: null,
    })),
  );
  await models.subscriptions.insertMany(
    Array.from({ length: 20 }, (_, i) => ({
      _id: `sub_${tag}_${index}_${i}`,
      orgId,
      userId,
      plan: 'pro',
      status: (['active', 'trialing', 'past_due'] as const)[i % 3],
    })),
  );
  await models.opportunities.insertMany(
    Array.from({ length: 200 }, (_, i) => ({
      _id: `opp_${tag}_${index}_${i}`,
      orgId,
      ownerId: userId,
      title: `Deal ${i}`,
      status: 'open',
      transfers: [],
    })),
  );
  return { userId, actorId: `admin_${tag}` };
}

async function main(): Promise<void> {
  const config = loadConfig({
    ...process.env,
    QUEUE_PREFIX: `bench_${tag}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
  });
  const logger = createLogger(config);
  const mongo = await connectMongo(config.mongoUrl, { dbName: `bench_latency_${tag}` });
  const models = createModels(mongo);
  await ensureIndexes(models);
  await models.organizations.create({ _id: orgId, name: 'Bench', createdAt: new Date() });
  await models.users.create({
    _id: `admin_${tag}`,
    orgId,
    kind: 'employee',
    email: 'admin@bench.example',
    firstName: 'A',
    lastName: 'Dmin',
    role: 'admin',
    status: 'active',
    lastLoginAt: new Date(),
    createdAt: new Date(),
    allowReactivationOnPurchase: false,
  });
  const { key } = await createApiKey(models, { name: 'bench', scopes: ['*'], orgIds: [orgId] });
  const redis = createRedisConnection(config.redisUrl, 'producer');
  const producers = createProducers(redis, config.queuePrefix, logger);
  const metrics = createServiceMetrics(producers.queues);
  const app = createApp({
    mongo,
    models,
    redis,
    logger,
    metrics,
    dashboard: config.dashboard,
    security: config.security,
    queuePrefix: config.queuePrefix,
    ...producers,
  });
  const server: Server = await listen(app, 0);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const workers = await startWorkers({ config, models, logger, metrics });

  const timings: number[] = [];
  try {
    for (let index = 0; index < runs; index += 1) {
      const { userId, actorId } = await seedUser(models, index);
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/v1/orgs/${orgId}/deactivations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId, actorId }),
      });
      if (response.status !== 202)
        throw new Error(`POST answered ${response.status}: ${await response.text()}`);
      const { id } = (await response.json()) as { id: string };
      for (;;) {
        const run = await models.deactivations.findById(id, { status: 1 }).lean();
        if (run?.status === 'completed') break;
        if (run?.status === 'failed') throw new Error(`run ${id} failed`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const elapsed = performance.now() - started;
      timings.push(elapsed);
      console.log(`run ${index + 1}: ${elapsed.toFixed(0)} ms`);
    }
    const sorted = [...timings].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    console.log(
      `POST → completed, 100 tokens / 20 subscriptions / 200 opportunities / 5 teams: median ${median.toFixed(0)} ms over ${runs} runs (min ${sorted[0]?.toFixed(0)}, max ${sorted.at(-1)?.toFixed(0)})`,
    );
  } finally {
    await workers.close();
    await closeServer(server);
    await producers.close();
    redis.disconnect();
    await mongo.dropDatabase();
    await mongo.close();
  }
}

void main();
