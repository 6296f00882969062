/** The MongoDB driver's and mongoose's names for "the store cannot be reached". */
const unavailableErrorNames = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

/**
 * FerretDB v1 answering while the PostgreSQL under it is away, stopping or starting: it replies
 * with an ordinary `MongoServerError` whose message is PostgreSQL's or its driver's text (seen in
 * the fault drills), where MongoDB would drop the connection and the driver would raise one of
 * the names above. Then the driver's text for a pooled connection dropped mid-operation (which
 * bulk writes wrap in a `MongoBulkWriteError`) and mongoose's for a connection that is down.
 */
const unavailableMessages = [
  /failed to connect to|dial error|connection refused|unexpected EOF/i,
  /terminating connection|database system is (shutting down|starting up|in recovery)/i,
  /server closed the connection|conn closed|broken pipe|connection reset by peer/i,
  /connection .* closed/i,
  /does not allow operations .*disconnected|buffering timed out/i,
];

/**
 * True when `error` says the store (MongoDB, or FerretDB and its PostgreSQL) is unavailable
 * rather than that the operation was wrong: a request then answers 503 and a job retries. On
 * MongoDB only the error names would be needed.
 */
export function isStoreUnavailable(error: unknown): boolean {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return (
    unavailableErrorNames.has(name) || unavailableMessages.some((pattern) => pattern.test(message))
  );
}
