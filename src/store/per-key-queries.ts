/**
 * How many per-key queries (`findOne` by an indexed key) one caller keeps in flight: below the
 * client's connection pool (`MONGO_MAX_POOL_SIZE`, 20), so the rest of the process still gets
 * connections.
 *
 * Why per key at all: FerretDB v1 pushes only equality filters on top-level fields down to
 * PostgreSQL, so one `{ _id: { $in: ids } }` reads the whole collection (2.7 s for 200 ids among
 * 20,000 users), where 200 equality lookups on the primary key take a fraction of that. On
 * MongoDB this would be one `$in` query.
 */
export const lookupConcurrency = 8;

/**
 * Single-document updates in flight at once where MongoDB would take one `bulkWrite`: FerretDB v1
 * keeps a PostgreSQL connection per statement of an update command until the whole command ends,
 * so one `bulkWrite` of 200 updates can take the store's whole pool (seen here: a deadlock). Kept
 * below the client's pool for the same reason as {@link lookupConcurrency}.
 */
export const writeConcurrency = 8;

/**
 * One value as an equality, several as `$in`: the same documents, but FerretDB v1 pushes only an
 * equality down to PostgreSQL, so a single request (one user) does not read every team of the
 * organization to find its few. On MongoDB `{ $in: values }` alone would do.
 */
export function equalityOrIn(values: string[]): string | { $in: string[] } {
  return values.length === 1 && values[0] !== undefined ? values[0] : { $in: values };
}
