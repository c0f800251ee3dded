/** Looking things up in an evaluation: resources by logical name or type, role policies, function packages. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Evaluation } from './evaluate.ts';
import { computedState, type PolicyStatement, type RecordedResource } from './mocks.ts';
import { readZip } from './zip.ts';

export const TYPES = {
  function: 'aws:lambda/function:Function',
  functionUrl: 'aws:lambda/functionUrl:FunctionUrl',
  role: 'aws:iam/role:Role',
  queue: 'aws:sqs/queue:Queue',
  table: 'aws:dynamodb/table:Table',
  eventSourceMapping: 'aws:lambda/eventSourceMapping:EventSourceMapping',
  eventRule: 'aws:cloudwatch/eventRule:EventRule',
  eventTarget: 'aws:cloudwatch/eventTarget:EventTarget',
  permission: 'aws:lambda/permission:Permission',
  metricAlarm: 'aws:cloudwatch/metricAlarm:MetricAlarm',
  topic: 'aws:sns/topic:Topic',
  topicSubscription: 'aws:sns/topicSubscription:TopicSubscription',
  secret: 'sst:sst:Secret',
} as const;

export const BASIC_EXECUTION_POLICY = 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
export const VPC_ACCESS_POLICY = 'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole';

export function ofType(evaluation: Evaluation, type: string): RecordedResource[] {
  return evaluation.resources.filter((resource) => resource.type === type);
}

/** The one resource of `type` named `name` (SST's low-level names: `<Component><Part>`, e.g. `WorkerFunction`). */
export function resource(evaluation: Evaluation, type: string, name: string): RecordedResource {
  const found = evaluation.resources.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) {
    const names = ofType(evaluation, type).map((r) => r.name);
    throw new Error(`expected one ${type} named ${name}, found ${found.length} (${type} resources: ${names.join(', ') || 'none'})`);
  }
  return found[0]!;
}

export function maybeResource(evaluation: Evaluation, type: string, name: string): RecordedResource | undefined {
  return evaluation.resources.find((r) => r.type === type && r.name === name);
}

export function input<T = unknown>(r: RecordedResource, key: string): T {
  return r.inputs[key] as T;
}

/** The statements of a role's inline policies (SST attaches at most one, "inline"). */
export function inlineStatements(role: RecordedResource): PolicyStatement[] {
  const policies = (role.inputs.inlinePolicies as { name: string; policy: string }[] | undefined) ?? [];
  return policies.flatMap((p) => (JSON.parse(p.policy) as { Statement: PolicyStatement[] }).Statement);
}

/** action → sorted resources it is allowed on. */
export function allowedActions(role: RecordedResource): Map<string, string[]> {
  const allowed = new Map<string, Set<string>>();
  for (const statement of inlineStatements(role)) {
    if (statement.Effect !== 'Allow') continue;
    for (const action of [statement.Action].flat()) {
      const set = allowed.get(action) ?? new Set<string>();
      for (const res of [statement.Resource].flat()) set.add(res);
      allowed.set(action, set);
    }
  }
  return new Map([...allowed].map(([action, set]) => [action, [...set].sort()]));
}

export function managedPolicies(role: RecordedResource): string[] {
  return [...((role.inputs.managedPolicyArns as string[] | undefined) ?? [])].sort();
}

export function environment(fn: RecordedResource): Record<string, string> {
  return (fn.inputs.environment as { variables?: Record<string, string> } | undefined)?.variables ?? {};
}

/** The package SST zipped for a function (`<work>/artifacts/<Function>/code.zip`). */
export function functionPackage(evaluation: Evaluation, component: string): Map<string, Buffer> {
  const file = join(evaluation.work, 'artifacts', component, 'code.zip');
  if (!existsSync(file)) throw new Error(`no package for ${component} at ${file}`);
  return readZip(file);
}

/** An attribute the mocks computed for a resource (ARN, URL, physical name), as AWS would. */
export function computed(evaluation: Evaluation, type: string, name: string, key: 'arn' | 'name' | 'url' | 'functionUrl'): string {
  const r = resource(evaluation, type, name);
  return String(computedState(type, name, r.inputs)[key]);
}
