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

function connectOptions(options: MongoConnectionOptions): ConnectOptions {
  return {
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
  return mongoose.createConnection(url, connectOptions(options)).asPromise();
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
  await connection.openUri(url, connectOptions(options));
}
