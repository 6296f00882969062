import mongoose, { type Connection } from 'mongoose';

/**
 * Opens a connection to the MongoDB-compatible store. Commands are not buffered while
 * disconnected: a request fails fast (and answers 503) instead of hanging.
 */
export async function connectMongo(
  url: string,
  options: { dbName?: string; maxPoolSize?: number } = {},
): Promise<Connection> {
  const connection = mongoose.createConnection(url, {
    ...(options.dbName === undefined ? {} : { dbName: options.dbName }),
    // Bounded: FerretDB serves each request with a PostgreSQL connection of its own pool.
    maxPoolSize: options.maxPoolSize ?? 20,
    autoIndex: false,
    autoCreate: false,
    bufferCommands: false,
    serverSelectionTimeoutMS: 5_000,
    heartbeatFrequencyMS: 2_000,
  });
  return connection.asPromise();
}
