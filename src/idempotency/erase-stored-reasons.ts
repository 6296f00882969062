import type { Models } from '../models/create-models';

/**
 * Clears the free-text `reason` of the responses kept for idempotent replays
 * (`idempotencyRecords`, written by src/api/idempotency.ts) when it is about the user, or when
 * `mentions` finds them in its text, anywhere in the organization. Only responses are stored (a
 * request is kept as a hash), and the responses that carry a reason are run views, which name
 * their organization and user. Erasure calls this, so it need not know how a record is laid out.
 *
 * Not indexed: the collection holds one day of responses, and erasures are rare. A conditional
 * update: running it again changes nothing.
 */
export async function eraseReasonsInStoredResponses(
  models: Pick<Models, 'idempotencyRecords'>,
  target: { orgId: string; userId: string; mentions: RegExp | null },
): Promise<void> {
  const { orgId, userId, mentions } = target;
  const about: Record<string, unknown> = { 'responseBody.userId': userId };
  await models.idempotencyRecords.updateMany(
    {
      'responseBody.orgId': orgId,
      'responseBody.reason': { $ne: null },
      ...(mentions === null
        ? about
        : { $or: [about, { 'responseBody.reason': { $regex: mentions } }] }),
    },
    { $set: { 'responseBody.reason': null } },
  );
}
