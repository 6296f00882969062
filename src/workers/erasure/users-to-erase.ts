import type { QueryFilter } from 'mongoose';
import type { Models } from '../../models/create-models';
import type { User } from '../../models/user.model';

/**
 * The ids of up to `batch` users matching `filter`, streamed: the erasure passes work through
 * one batch a run and leave the rest to the next.
 */
export async function* usersToErase(
  models: Models,
  filter: QueryFilter<User>,
  batch: number,
): AsyncGenerator<{ _id: string; orgId: string }> {
  yield* models.users.find(filter, { _id: 1, orgId: 1 }).limit(batch).lean().cursor();
}
