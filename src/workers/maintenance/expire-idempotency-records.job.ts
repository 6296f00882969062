import type { Models } from '../../models/create-models';

/**
 * Deletes idempotency records past their expiry. A job rather than a TTL index because
 * FerretDB v1 has no TTL indexes (see docs/local-services.md).
 */
export async function expireIdempotencyRecords(
  models: Pick<Models, 'idempotencyRecords'>,
  now = new Date(),
): Promise<{ deleted: number }> {
  const result = await models.idempotencyRecords.deleteMany({ expiresAt: { $lt: now } });
  return { deleted: result.deletedCount };
}

/** The `expire-idempotency-records` job of the `maintenance` queue. */
export function expireIdempotencyRecordsJob(
  models: Pick<Models, 'idempotencyRecords'>,
): Promise<{ deleted: number }> {
  return expireIdempotencyRecords(models);
}
