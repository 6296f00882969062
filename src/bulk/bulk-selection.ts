import { ulid } from 'ulid';
import type { BulkDeactivation, BulkStatus } from '../models/bulk-deactivation.model';
import type { BulkItem } from '../models/bulk-item.model';
import type { Models } from '../models/create-models';
import type { SelectedUser } from './select-dormant-users';
import { insertIgnoringDuplicates } from '../store/duplicate-key';

const itemBatch = 1_000;

/** How many users one round of the bulk job checks and accepts together. */
export const bulkBatchSize = 200;

/**
 * Records a bulk's selection as items, in selection order, a batch at a time. Unless the bulk is
 * a dry run, each item is given the id of the run it will create: the batch that accepts its
 * user creates the run under that id, so the items it enqueues need no write of their own but
 * their status, and all of a batch's take one update (see processBulkBatch).
 */
export class SelectionWriter {
  private seq = 0;
  private pending: BulkItem[] = [];

  constructor(
    private readonly models: Models,
    private readonly bulkId: string,
    private readonly options: { dryRun: boolean },
  ) {}

  get count(): number {
    return this.seq;
  }

  /**
   * Adds users in order: ids the caller gave, or users a selection read, whose snapshot the
   * item keeps (see BulkItem.seen).
   */
  async add(users: Iterable<string | SelectedUser>): Promise<void> {
    for (const user of users) {
      const { userId, seen } =
        typeof user === 'string'
          ? { userId: user, seen: null }
          : {
              userId: user._id,
              seen: { kind: user.kind, role: user.role, reactivatedAt: user.reactivatedAt ?? null },
            };
      this.pending.push({
        _id: `${this.bulkId}/${String(this.seq).padStart(8, '0')}`,
        bulkId: this.bulkId,
        seq: this.seq,
        batch: Math.floor(this.seq / bulkBatchSize),
        userId,
        status: 'pending',
        reason: null,
        runId: this.options.dryRun ? null : ulid(),
        seen,
      });
      this.seq += 1;
      if (this.pending.length >= itemBatch) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    // A resumed selection (a sweep retried after a crash) writes the same ids again.
    await insertIgnoringDuplicates(this.models.bulkItems, batch);
  }
}

/** Creates the bulk document that a selection is then written under. */
export function newBulk(
  input: Omit<
    BulkDeactivation,
    | 'status'
    | 'matched'
    | 'enqueued'
    | 'planned'
    | 'skipped'
    | 'skippedByReason'
    | 'processed'
    | 'startedAt'
    | 'finishedAt'
    | 'error'
    | '_id'
  >,
  status: BulkStatus,
  id: string = ulid(),
): BulkDeactivation {
  return {
    _id: id,
    ...input,
    status,
    matched: 0,
    enqueued: 0,
    planned: 0,
    skipped: 0,
    skippedByReason: {},
    processed: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
  };
}
