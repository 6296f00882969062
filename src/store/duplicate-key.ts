import type { Model } from 'mongoose';

/** MongoDB's duplicate key error code; FerretDB v1 answers a unique-index conflict with it too. */
const duplicateKeyCode = 11000;

/** One failed document of an insert: its position in the batch and the server's error code. */
interface WriteErrorLike {
  index?: number;
  code?: number;
  err?: { index?: number; code?: number };
}

/**
 * The write errors of a failed insert as a list. The driver's `MongoBulkWriteError` carries an
 * array of `WriteError`s (code and index as getters); older drivers gave a single object for one
 * failure, and mongoose's `insertMany` errors nest them under `err`.
 */
function writeErrorsOf(error: unknown): { index: number | undefined; code: unknown }[] {
  const raw = (error as { writeErrors?: WriteErrorLike[] | WriteErrorLike } | null)?.writeErrors;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return list.map((e) => ({ index: e.index ?? e.err?.index, code: e.code ?? e.err?.code }));
}

/**
 * True when `error` is a unique-index conflict and nothing else: the `code` 11000 of a single
 * write (`insertOne`, an upsert, `create`), or, for a batch, every write error being one. The
 * service decides races by unique inserts (docs/data.md), so this is how a loser recognises that
 * it lost. The same on MongoDB and FerretDB v1; kept here so the code and the error shapes live
 * in one place.
 */
export function isDuplicateKey(error: unknown): boolean {
  const writeErrors = writeErrorsOf(error);
  if (writeErrors.length > 0) return writeErrors.every((e) => e.code === duplicateKeyCode);
  return (error as { code?: unknown } | null)?.code === duplicateKeyCode;
}

/**
 * Inserts `docs` unordered through the driver (no mongoose casting, validation or defaults: the
 * documents are complete) and returns the positions of those whose unique key was already taken;
 * the others are inserted. Any other failure is thrown. For writes repeated after a crash and for
 * claims decided by a unique index.
 *
 * Why inserts and not upserts: a unique insert is the one write FerretDB v1 applies atomically
 * under concurrency (its updates are read, modify, write without locking); on MongoDB a
 * conditional update of one document would decide such a race as well. The cast is a typing
 * matter only: the driver's collection is typed for plain documents, not for the model's type.
 */
export async function insertIgnoringDuplicates<T>(
  model: Model<T>,
  docs: readonly T[],
): Promise<Set<number>> {
  if (docs.length === 0) return new Set();
  try {
    await model.collection.insertMany(docs as never[], { ordered: false });
    return new Set();
  } catch (error) {
    const writeErrors = writeErrorsOf(error);
    if (writeErrors.length === 0 || !isDuplicateKey(error)) throw error;
    return new Set(writeErrors.flatMap((e) => (e.index === undefined ? [] : [e.index])));
  }
}
