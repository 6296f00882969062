import type { Connection, Model } from 'mongoose';
import { apiKeySchema, type ApiKey } from './api-key.model';
import { auditEventSchema, type AuditEvent } from './audit-event.model';
import { blocklistEntrySchema, type BlocklistEntry } from './blocklist-entry.model';
import { bulkDeactivationSchema, type BulkDeactivation } from './bulk-deactivation.model';
import { bulkItemSchema, type BulkItem } from './bulk-item.model';
import { deactivationSchema, type Deactivation } from './deactivation.model';
import {
  idempotencyAttemptEndSchema,
  type IdempotencyAttemptEnd,
} from './idempotency-attempt-end.model';
import { idempotencyRecordSchema, type IdempotencyRecord } from './idempotency-record.model';
import { opportunitySchema, type Opportunity } from './opportunity.model';
import { organizationSchema, type Organization } from './organization.model';
import { subscriptionSchema, type Subscription } from './subscription.model';
import { sweepReportSchema, type SweepReport } from './sweep-report.model';
import { teamSchema, type Team } from './team.model';
import { tokenSchema, type Token } from './token.model';
import { userSchema, type User } from './user.model';
import { webhookDeliverySchema, type WebhookDelivery } from './webhook-delivery.model';
import { webhookEndpointSchema, type WebhookEndpoint } from './webhook-endpoint.model';
import { webhookEventSchema, type WebhookEvent } from './webhook-event.model';

/** Every model of the service, bound to one connection. */
export interface Models {
  organizations: Model<Organization>;
  users: Model<User>;
  teams: Model<Team>;
  opportunities: Model<Opportunity>;
  subscriptions: Model<Subscription>;
  tokens: Model<Token>;
  blocklist: Model<BlocklistEntry>;
  deactivations: Model<Deactivation>;
  auditEvents: Model<AuditEvent>;
  apiKeys: Model<ApiKey>;
  idempotencyRecords: Model<IdempotencyRecord>;
  idempotencyAttemptEnds: Model<IdempotencyAttemptEnd>;
  bulkDeactivations: Model<BulkDeactivation>;
  bulkItems: Model<BulkItem>;
  sweeps: Model<SweepReport>;
  webhookEndpoints: Model<WebhookEndpoint>;
  webhookEvents: Model<WebhookEvent>;
  webhookDeliveries: Model<WebhookDelivery>;
}

/**
 * Binds the schemas to `connection`. Models live on the connection rather than on mongoose's
 * global, so each test file (and each process) can own a database of its own.
 */
export function createModels(connection: Connection): Models {
  return {
    organizations: connection.model<Organization>('Organization', organizationSchema),
    users: connection.model<User>('User', userSchema),
    teams: connection.model<Team>('Team', teamSchema),
    opportunities: connection.model<Opportunity>('Opportunity', opportunitySchema),
    subscriptions: connection.model<Subscription>('Subscription', subscriptionSchema),
    tokens: connection.model<Token>('Token', tokenSchema),
    blocklist: connection.model<BlocklistEntry>('BlocklistEntry', blocklistEntrySchema),
    deactivations: connection.model<Deactivation>('Deactivation', deactivationSchema),
    auditEvents: connection.model<AuditEvent>('AuditEvent', auditEventSchema),
    apiKeys: connection.model<ApiKey>('ApiKey', apiKeySchema),
    idempotencyRecords: connection.model<IdempotencyRecord>(
      'IdempotencyRecord',
      idempotencyRecordSchema,
    ),
    idempotencyAttemptEnds: connection.model<IdempotencyAttemptEnd>(
      'IdempotencyAttemptEnd',
      idempotencyAttemptEndSchema,
    ),
    bulkDeactivations: connection.model<BulkDeactivation>(
      'BulkDeactivation',
      bulkDeactivationSchema,
    ),
    bulkItems: connection.model<BulkItem>('BulkItem', bulkItemSchema),
    sweeps: connection.model<SweepReport>('SweepReport', sweepReportSchema),
    webhookEndpoints: connection.model<WebhookEndpoint>('WebhookEndpoint', webhookEndpointSchema),
    webhookEvents: connection.model<WebhookEvent>('WebhookEvent', webhookEventSchema),
    webhookDeliveries: connection.model<WebhookDelivery>('WebhookDelivery', webhookDeliverySchema),
  };
}

/** Creates every declared index; awaited at start-up so unique constraints hold from the start. */
export async function ensureIndexes(models: Models): Promise<void> {
  await Promise.all(Object.values(models).map((model: Model<unknown>) => model.createIndexes()));
}
