import type { Model, ProjectionType, QueryFilter } from 'mongoose';

/**
 * Where a page starts: the sort key of the previous page's last item, a time in milliseconds
 * (null for a document whose date field is null) and its `_id`.
 */
export interface PageKey {
  at: number | null;
  id: string;
}

/** One page of a keyset listing. */
export interface KeysetPageQuery<T> {
  filter: QueryFilter<T>;
  /** The date field the listing is ordered by, then by `_id` in the same direction. */
  key: keyof T & string;
  /**
   * `asc`: oldest first, documents whose key is null before every date. `desc`: newest first;
   * the key is then never null.
   */
  order: 'asc' | 'desc';
  limit: number;
  after?: PageKey | null | undefined;
  projection?: ProjectionType<T>;
}

/** The page, and the key the next page starts after (null on the last page). */
export interface KeysetPage<T> {
  items: T[];
  next: PageKey | null;
}

/** The documents that sort after `after`, for the key and order of `query`. */
function afterClause(key: string, order: 'asc' | 'desc', after: PageKey): Record<string, unknown> {
  const beyond = order === 'asc' ? '$gt' : '$lt';
  if (after.at === null) {
    // Nulls sort before every date: after a null come the later nulls, then every date.
    return order === 'asc'
      ? { $or: [{ [key]: null, _id: { $gt: after.id } }, { [key]: { $type: 'date' } }] }
      : { [key]: null, _id: { $lt: after.id } };
  }
  const at = new Date(after.at);
  return { $or: [{ [key]: { [beyond]: at } }, { [key]: at, _id: { [beyond]: after.id } }] };
}

/**
 * Reads one page of a listing ordered by a date and `_id`, starting after the previous page's
 * last item: one query of `limit + 1` documents on the listing's index, however deep the page,
 * never a skip (a skip reads and discards every earlier document). Every cursor-paged listing
 * goes through here, so the order, the tie-break on `_id` and the end of the listing are decided
 * once.
 */
export async function keysetPage<T extends { _id: string }>(
  model: Model<T>,
  query: KeysetPageQuery<T>,
): Promise<KeysetPage<T>> {
  const { key, order, limit, after } = query;
  let filter: Record<string, unknown> = { ...query.filter };
  if (after) {
    const clause = afterClause(key, order, after);
    // Merged at the top level where no field clashes: FerretDB v1 pushes only top-level
    // equalities (the organization) down to PostgreSQL, not those nested in an `$and`.
    const clash = Object.keys(clause).some((field) => field in filter);
    filter = clash ? { $and: [filter, clause] } : { ...filter, ...clause };
  }
  const direction = order === 'asc' ? 1 : -1;
  const found = (await model
    .find(filter as QueryFilter<T>, query.projection)
    .sort({ [key]: direction, _id: direction })
    .limit(limit + 1)
    .lean()) as unknown as T[];
  const items = found.slice(0, limit);
  const last = items.at(-1);
  const lastAt = last?.[key];
  return {
    items,
    next:
      found.length > limit && last
        ? { at: lastAt instanceof Date ? lastAt.getTime() : null, id: last._id }
        : null,
  };
}
