import mongoose, { type Connection, type ConnectOptions } from 'mongoose';

/** Options of {@link connectMongo}. */
export interface MongoConnectionOptions {
  dbName?: string;
  maxPoolSize?: number;
}

/**
 * The driver's own timings. Every heartbeat of its server monitor ends (succeeds or fails)
 * within two connect timeouts, and the next starts one heartbeat period later: the bound
 * {@link watchStoreMonitor} relies on.
 */
export const storeTimings = {
  connectTimeoutMS: 10_000,
  heartbeatFrequencyMS: 2_000,
  serverSelectionTimeoutMS: 5_000,
} as const;

/**
 * What a replica set (`MONGO_URL` with `replicaSet=`) adds: retryable writes (a write that met a
 * primary step-down is retried once on the new primary, which the driver's server selection
 * waits for) and majority writes (a write is acknowledged once most members hold it, so a
 * failover cannot roll it back). Nothing for a single server such as the local FerretDB, which
 * has no replicas to wait for. Not tested here: there is no MongoDB replica set on this machine
 * (README, "Running at scale").
 */
export function replicaSetOptions(url: string): ConnectOptions {
  let replicaSet: string | null;
  try {
    replicaSet = new URL(url).searchParams.get('replicaSet');
  } catch {
    // A mongodb+srv:// or multi-host URL the WHATWG parser refuses: look at the query alone.
    replicaSet = new URLSearchParams(url.split('?')[1] ?? '').get('replicaSet');
  }
  if (replicaSet === null || replicaSet === '') return {};
  return { retryWrites: true, writeConcern: { w: 'majority' } };
}

function connectOptions(url: string, options: MongoConnectionOptions): ConnectOptions {
  return {
    ...replicaSetOptions(url),
    ...(options.dbName === undefined ? {} : { dbName: options.dbName }),
    // Bounded: the local store serves each request with a PostgreSQL connection of its own pool
    // (docs/local-services.md).
    maxPoolSize: options.maxPoolSize ?? 20,
    autoIndex: false,
    autoCreate: false,
    bufferCommands: false,
    ...storeTimings,
  };
}

/**
 * Opens a connection to the MongoDB-compatible store. Commands are not buffered while
 * disconnected: a request fails fast (and answers 503) instead of hanging.
 */
export async function connectMongo(
  url: string,
  options: MongoConnectionOptions = {},
): Promise<Connection> {
  return mongoose.createConnection(url, connectOptions(url, options)).asPromise();
}

/**
 * Replaces the connection's driver client with a new one, on the same connection object, so
 * the models bound to it keep working. Operations in flight on the old client fail (as a
 * network error would fail them); operations during the switch fail fast as unavailable.
 */
export async function reopenMongo(
  connection: Connection,
  url: string,
  options: MongoConnectionOptions = {},
): Promise<void> {
  await connection.close().catch(() => undefined);
  await connection.openUri(url, connectOptions(url, options));
}
