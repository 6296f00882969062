import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisTarget, type RedisTarget } from '../config/redis-target';
import { AppError } from '../errors/app-error';

/**
 * How a connection is used decides its failure behaviour:
 * - `worker`: blocking BullMQ commands; retries forever (`maxRetriesPerRequest: null`, as BullMQ
 *   requires for workers) so a Redis restart or a cluster failover pauses work instead of
 *   crashing it.
 * - `producer`: the API's queues; fails fast while Redis is away, so a request answers 503 at
 *   once and the run already written to MongoDB is left for the reconciler.
 */
export type RedisRole = 'worker' | 'producer';

/** A connection to one Redis server or to a Redis Cluster; BullMQ takes either. */
export type RedisClient = Redis | Cluster;

const retryStrategy = (attempt: number): number => Math.min(200 * attempt, 2_000);

function nodeOptions(role: RedisRole): RedisOptions {
  // No `keyPrefix`, ever: BullMQ refuses it and prefixes its keys itself.
  if (role === 'worker') return { maxRetriesPerRequest: null, retryStrategy };
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    retryStrategy,
  };
}

function clusterOptions(target: Extract<RedisTarget, { mode: 'cluster' }>, role: RedisRole) {
  const options: ClusterOptions = {
    redisOptions: {
      ...nodeOptions(role),
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.tls ? { tls: {} } : {}),
    },
    // Keeps trying to find the cluster again after losing every node (ioredis gives up by
    // default after its retry strategy returns nothing).
    clusterRetryStrategy: retryStrategy,
    // While a slot has no master (the seconds between a master's death and its replica's
    // promotion) a command is retried on CLUSTERDOWN for this long in total: the workers keep
    // waiting; the producer gives up soon so the request answers 503.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: role === 'worker' ? 150 : 8,
    // The topology changes on failover; refreshed on MOVED and every few seconds.
    slotsRefreshInterval: 5_000,
    slotsRefreshTimeout: 2_000,
    enableOfflineQueue: role === 'worker',
  };
  return options;
}

/** Creates an ioredis client for `role` on the Redis or Redis Cluster `url` names. */
export function createRedisConnection(url: string, role: RedisRole): RedisClient {
  const target = parseRedisTarget(url);
  if (target === null) throw new AppError('config_invalid', 'REDIS_URL is not a Redis URL');
  if (target.mode === 'single') return new Redis(url, nodeOptions(role));
  return new Cluster(target.nodes, clusterOptions(target, role));
}

/**
 * The servers to ask about their own settings: the one server, or every master of a cluster
 * (`CONFIG GET` answers for the node it reaches, not for the cluster).
 */
export function serversOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
