import { maxResults, scimUrns } from './scim-constants';

/** One attribute definition of a Schema resource (RFC 7643 §7). */
interface AttributeDefinition {
  name: string;
  type: 'string' | 'boolean' | 'complex' | 'integer' | 'reference' | 'dateTime';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDefinition[];
}

type Options = Partial<Omit<AttributeDefinition, 'name' | 'type' | 'description'>>;

function attribute(
  name: string,
  type: AttributeDefinition['type'],
  description: string,
  options: Options = {},
): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}

/** A read-only attribute, as every attribute of the discovery resources is. */
function readOnly(
  name: string,
  type: AttributeDefinition['type'],
  description: string,
  options: Options = {},
): AttributeDefinition {
  return attribute(name, type, description, { mutability: 'readOnly', ...options });
}

/** The User schema as offboard serves it: only the attributes it keeps (docs/scim.md). */
const userSchemaAttributes: AttributeDefinition[] = [
  attribute(
    'userName',
    'string',
    "The user's email address; unique in the organization, compared case-insensitively.",
    {
      required: true,
      uniqueness: 'server',
    },
  ),
  attribute('name', 'complex', "The user's name.", {
    subAttributes: [
      attribute('givenName', 'string', 'The given (first) name.'),
      attribute('familyName', 'string', 'The family (last) name.'),
    ],
  }),
  readOnly('emails', 'complex', 'The userName, as the one work address; set it through userName.', {
    multiValued: true,
    subAttributes: [
      readOnly('value', 'string', 'The address.'),
      readOnly('type', 'string', 'Always "work".', { canonicalValues: ['work'] }),
      readOnly('primary', 'boolean', 'Always true.'),
    ],
  }),
  attribute(
    'active',
    'boolean',
    'false deactivates the user (an offboard run); true reactivates them.',
    {
      required: true,
    },
  ),
];

const nameAndDescription = [
  readOnly('name', 'string', 'The name.', { required: true }),
  readOnly('description', 'string', 'A description.'),
];

const schemaSchemaAttributes: AttributeDefinition[] = [
  readOnly('id', 'string', 'The URI of the schema.', { required: true }),
  ...nameAndDescription,
  readOnly('attributes', 'complex', 'The attributes of the schema.', {
    multiValued: true,
    required: true,
    subAttributes: [
      readOnly('name', 'string', "The attribute's name.", { required: true, caseExact: true }),
      readOnly('type', 'string', "The attribute's data type.", {
        required: true,
        canonicalValues: [
          'string',
          'complex',
          'boolean',
          'decimal',
          'integer',
          'dateTime',
          'reference',
          'binary',
        ],
      }),
      readOnly('multiValued', 'boolean', 'Whether the attribute is multi-valued.', {
        required: true,
      }),
      readOnly('description', 'string', "The attribute's description."),
      readOnly('required', 'boolean', 'Whether the attribute is required.'),
      readOnly('canonicalValues', 'string', 'Suggested values.', {
        multiValued: true,
        caseExact: true,
      }),
      readOnly('caseExact', 'boolean', 'Whether string values are case-sensitive.'),
      readOnly('mutability', 'string', 'When the attribute can be written.', {
        canonicalValues: ['readOnly', 'readWrite', 'immutable', 'writeOnly'],
      }),
      readOnly('returned', 'string', 'When the attribute is returned.', {
        canonicalValues: ['always', 'never', 'default', 'request'],
      }),
      readOnly('uniqueness', 'string', 'How values must be unique.', {
        canonicalValues: ['none', 'server', 'global'],
      }),
      readOnly('referenceTypes', 'string', 'What a reference may point to.', { multiValued: true }),
      readOnly('subAttributes', 'complex', 'The sub-attributes of a complex attribute.', {
        multiValued: true,
        subAttributes: [
          readOnly('name', 'string', "The sub-attribute's name.", {
            required: true,
            caseExact: true,
          }),
          readOnly('type', 'string', "The sub-attribute's data type.", { required: true }),
          readOnly('multiValued', 'boolean', 'Whether it is multi-valued.', { required: true }),
          readOnly('description', 'string', 'Its description.'),
          readOnly('required', 'boolean', 'Whether it is required.'),
          readOnly('canonicalValues', 'string', 'Suggested values.', { multiValued: true }),
          readOnly('caseExact', 'boolean', 'Whether it is case-sensitive.'),
          readOnly('mutability', 'string', 'When it can be written.'),
          readOnly('returned', 'string', 'When it is returned.'),
          readOnly('uniqueness', 'string', 'How values must be unique.'),
          readOnly('referenceTypes', 'string', 'What a reference may point to.', {
            multiValued: true,
          }),
        ],
      }),
    ],
  }),
];

const resourceTypeSchemaAttributes: AttributeDefinition[] = [
  readOnly('id', 'string', "The resource type's id."),
  ...nameAndDescription,
  readOnly('endpoint', 'reference', "The resource type's endpoint, relative to the base URL.", {
    required: true,
    referenceTypes: ['uri'],
  }),
  readOnly('schema', 'reference', "The resource type's base schema.", {
    required: true,
    caseExact: true,
    referenceTypes: ['uri'],
  }),
  readOnly('schemaExtensions', 'complex', "The resource type's schema extensions.", {
    multiValued: true,
    subAttributes: [
      readOnly('schema', 'reference', 'The URI of an extension.', {
        required: true,
        caseExact: true,
        referenceTypes: ['uri'],
      }),
      readOnly('required', 'boolean', 'Whether the extension is required.', { required: true }),
    ],
  }),
];

const supported = (name: string, description: string): AttributeDefinition =>
  readOnly(name, 'complex', description, {
    required: true,
    subAttributes: [
      readOnly('supported', 'boolean', 'Whether it is supported.', { required: true }),
    ],
  });

const serviceProviderConfigSchemaAttributes: AttributeDefinition[] = [
  readOnly('documentationUri', 'reference', 'Human-readable documentation.', {
    referenceTypes: ['external'],
  }),
  supported('patch', 'PATCH options.'),
  readOnly('bulk', 'complex', 'Bulk options.', {
    required: true,
    subAttributes: [
      readOnly('supported', 'boolean', 'Whether it is supported.', { required: true }),
      readOnly('maxOperations', 'integer', 'The most operations.', { required: true }),
      readOnly('maxPayloadSize', 'integer', 'The largest payload, in bytes.', { required: true }),
    ],
  }),
  readOnly('filter', 'complex', 'Filter options.', {
    required: true,
    subAttributes: [
      readOnly('supported', 'boolean', 'Whether it is supported.', { required: true }),
      readOnly('maxResults', 'integer', 'The most resources a response holds.', { required: true }),
    ],
  }),
  supported('changePassword', 'Password change options.'),
  supported('sort', 'Sort options.'),
  supported('etag', 'ETag options.'),
  readOnly('authenticationSchemes', 'complex', 'The authentication schemes supported.', {
    multiValued: true,
    required: true,
    subAttributes: [
      readOnly('type', 'string', 'The scheme type.', { required: true }),
      readOnly('name', 'string', 'The scheme name.', { required: true }),
      readOnly('description', 'string', 'A description.', { required: true }),
      readOnly('specUri', 'reference', 'The specification.', { referenceTypes: ['external'] }),
      readOnly('documentationUri', 'reference', 'Documentation.', { referenceTypes: ['external'] }),
      readOnly('primary', 'boolean', 'Whether it is the preferred scheme.'),
    ],
  }),
];

const schemaDefinitions = [
  {
    id: scimUrns.user,
    name: 'User',
    description: 'A user of the organization',
    attributes: userSchemaAttributes,
  },
  {
    id: scimUrns.resourceType,
    name: 'ResourceType',
    description: 'A type of resource the service provider serves',
    attributes: resourceTypeSchemaAttributes,
  },
  {
    id: scimUrns.serviceProviderConfig,
    name: 'ServiceProviderConfig',
    description: "The service provider's configuration",
    attributes: serviceProviderConfigSchemaAttributes,
  },
  {
    id: scimUrns.schema,
    name: 'Schema',
    description: 'A schema',
    attributes: schemaSchemaAttributes,
  },
];

/** A discovery resource of `/Schemas`; `baseUrl` is the tenant URL. */
export function schemaDocuments(baseUrl: string): Record<string, unknown>[] {
  return schemaDefinitions.map((definition) => ({
    schemas: [scimUrns.schema],
    ...definition,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${definition.id}` },
  }));
}

/** The one resource type served: `User` (Groups are not served). */
export function resourceTypeDocuments(baseUrl: string): Record<string, unknown>[] {
  return [
    {
      schemas: [scimUrns.resourceType],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'A user of the organization; deprovisioning one is an offboard deactivation',
      schema: scimUrns.user,
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
  ];
}

/** What offboard's SCIM service supports (RFC 7643 §5). */
export function serviceProviderConfig(baseUrl: string): Record<string, unknown> {
  return {
    schemas: [scimUrns.serviceProviderConfig],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'An offboard API key with the "scim" scope, as "Authorization: Bearer <key>"',
        primary: true,
      },
    ],
    meta: {
      resourceType: 'ServiceProviderConfig',
      location: `${baseUrl}/ServiceProviderConfig`,
    },
  };
}
