import { ulid } from 'ulid';
import type { BulkDeactivation, BulkStatus } from '../models/bulk-deactivation.model';
import type { BulkItem } from '../models/bulk-item.model';
import type { Models } from '../models/create-models';
import { insertIgnoringDuplicates } from '../store/duplicate-key';

const itemBatch = 1_000;

/** How many users one round of the bulk job checks and accepts together. */
export const bulkBatchSize = 200;

/** Records a bulk's selection as items, in selection order, a batch at a time. */
export class SelectionWriter {
  private seq = 0;
  private pending: BulkItem[] = [];

  constructor(
    private readonly models: Models,
    private readonly bulkId: string,
  ) {}

  get count(): number {
    return this.seq;
  }

  async add(userIds: Iterable<string>): Promise<void> {
    for (const userId of userIds) {
      this.pending.push({
        _id: `${this.bulkId}/${String(this.seq).padStart(8, '0')}`,
        bulkId: this.bulkId,
        seq: this.seq,
        batch: Math.floor(this.seq / bulkBatchSize),
        userId,
        status: 'pending',
        reason: null,
        runId: null,
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
