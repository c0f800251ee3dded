/**
 * Pulumi unit-test mocks for evaluating the SST app: what the "cloud" answers
 * when a resource is registered or a provider function is called. Resources
 * echo their inputs plus the attributes AWS would compute (ARNs, URLs, names),
 * derived from the LOGICAL name so they are the same on every run.
 */

export const MOCK_REGION = 'us-east-1';
export const MOCK_ACCOUNT = '123456789012';

export interface RecordedResource {
  type: string;
  /** Logical (Pulumi) name, e.g. `WorkerFunction`, `JobsQueueQueue`. */
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
}

export interface RecordedCall {
  token: string;
  inputs: Record<string, unknown>;
}

/** IAM policy JSON as the AWS provider renders getPolicyDocument (the parts the stacks use). */
export interface PolicyStatement {
  Effect: string;
  Action: string[];
  Resource: string[];
  Principal?: Record<string, string[]>;
  Condition?: unknown;
}

interface DocumentStatement {
  effect?: string;
  actions?: string[];
  resources?: string[];
  principals?: { type: string; identifiers: string[] }[];
  conditions?: unknown;
}

export function renderPolicy(statements: DocumentStatement[] | undefined): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: (statements ?? []).map((s) => ({
      Effect: s.effect ?? 'Allow',
      Action: s.actions ?? [],
      Resource: s.resources ?? [],
      ...(s.principals ? { Principal: Object.fromEntries(s.principals.map((p) => [p.type, p.identifiers])) } : {}),
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  });
}

/** The computed attributes of a mocked resource. */
export function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const physical = typeof inputs.name === 'string' ? inputs.name : name;
  const regional = (service: string, resource: string) => `arn:aws:${service}:${MOCK_REGION}:${MOCK_ACCOUNT}:${resource}`;
  switch (type) {
    case 'aws:sqs/queue:Queue':
      return { arn: regional('sqs', name), url: `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${physical}`, name: physical };
    case 'aws:dynamodb/table:Table':
      return { arn: regional('dynamodb', `table/${name}`), name: physical, streamArn: '' };
    case 'aws:lambda/function:Function': {
      const arn = regional('lambda', `function:${name}`);
      return {
        arn,
        name: physical,
        qualifiedArn: `${arn}:$LATEST`,
        version: '$LATEST',
        invokeArn: `arn:aws:apigateway:${MOCK_REGION}:lambda:path/2015-03-31/functions/${arn}/invocations`,
        qualifiedInvokeArn: `arn:aws:apigateway:${MOCK_REGION}:lambda:path/2015-03-31/functions/${arn}:$LATEST/invocations`,
        responseStreamingInvokeArn: `arn:aws:apigateway:${MOCK_REGION}:lambda:path/2021-11-15/functions/${arn}/response-streaming-invocations`,
        lastModified: '2025-01-01T00:00:00.000+0000',
      };
    }
    case 'aws:lambda/functionUrl:FunctionUrl':
      return { functionUrl: `https://${name.toLowerCase()}.lambda-url.${MOCK_REGION}.on.aws/`, urlId: name.toLowerCase() };
    case 'aws:iam/role:Role':
      return { arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${name}`, name: physical };
    case 'aws:sns/topic:Topic':
      return { arn: regional('sns', name), name: physical };
    case 'aws:cloudwatch/eventRule:EventRule':
      return { arn: regional('events', `rule/${name}`), name: physical };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { arn: regional('logs', `log-group:${physical}`), name: physical };
    case 'random:index/randomBytes:RandomBytes': {
      const bytes = Buffer.alloc(Number(inputs.length ?? 32), 7);
      return { base64: bytes.toString('base64'), hex: bytes.toString('hex') };
    }
    default:
      return { arn: regional('mock', name) };
  }
}

/** Answers for the provider functions the SST components call. */
export function callResult(token: string, inputs: Record<string, unknown>): Record<string, unknown> | undefined {
  switch (token) {
    case 'aws:index/getPartition:getPartition':
      return { id: 'aws', partition: 'aws', dnsSuffix: 'amazonaws.com', reverseDnsPrefix: 'com.amazonaws' };
    case 'aws:index/getRegion:getRegion':
      return { id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION, endpoint: `ec2.${MOCK_REGION}.amazonaws.com`, description: 'US East (N. Virginia)' };
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { id: MOCK_ACCOUNT, accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/mock`, userId: 'AIDAMOCK' };
    case 'aws:index/getAvailabilityZones:getAvailabilityZones':
      return { id: MOCK_REGION, names: [`${MOCK_REGION}a`, `${MOCK_REGION}b`], zoneIds: ['use1-az1', 'use1-az2'] };
    case 'aws:iam/getPolicyDocument:getPolicyDocument': {
      // Echo the statements (SST adds the role's inline policy only when there are some)
      // and render the JSON the role receives.
      const statements = inputs.statements as DocumentStatement[] | undefined;
      return {
        ...inputs,
        id: 'policy',
        statements: statements && statements.length > 0 ? statements : undefined,
        json: renderPolicy(statements),
      };
    }
    default:
      return undefined;
  }
}
