import type { Models } from '../../models/create-models';

/**
 * Deletes idempotency records, and the ends of their attempts, past their expiry. A job rather
 * than a TTL index because FerretDB v1 has no TTL indexes (see docs/local-services.md).
 */
export async function expireIdempotencyRecords(
  models: Pick<Models, 'idempotencyRecords' | 'idempotencyAttemptEnds'>,
  now = new Date(),
): Promise<{ deleted: number }> {
  const [records, ends] = await Promise.all([
    models.idempotencyRecords.deleteMany({ expiresAt: { $lt: now } }),
    models.idempotencyAttemptEnds.deleteMany({ expiresAt: { $lt: now } }),
  ]);
  return { deleted: records.deletedCount + ends.deletedCount };
}

/** The `expire-idempotency-records` job of the `maintenance` queue. */
export function expireIdempotencyRecordsJob(
  models: Pick<Models, 'idempotencyRecords' | 'idempotencyAttemptEnds'>,
): Promise<{ deleted: number }> {
  return expireIdempotencyRecords(models);
}
