/** The URNs of the SCIM 2.0 schemas and messages offboard serves (RFC 7643, RFC 7644). */
export const scimUrns = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
} as const;

/** What every SCIM response is sent as. */
export const scimContentType = 'application/scim+json; charset=utf-8';

/** The actor of every run, reactivation and deletion an identity provider asks for. */
export const scimActorId = 'system:scim';

/** Where SCIM is mounted; an organization's tenant URL is `<base>/orgs/<orgId>`. */
export const scimBasePath = '/scim/v2';

/** The most resources one list page holds (`count` above it is lowered to it). */
export const maxResults = 200;

/** The largest request body accepted, as for `/v1`. */
export const maxBodyBytes = 100 * 1024;
