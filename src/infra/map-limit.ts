/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping order. Lookups by key
 * are issued this way rather than as one `$in`: FerretDB v1 pushes only equality filters down to
 * PostgreSQL, so `$in` scans the whole collection (measured: 2.7 s for 200 ids among 20,000
 * users, against 200 equality lookups on the primary key in a fraction of that).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await fn(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}
