/**
 * The device relay: a small Lambda in the customer's EXISTING VPC (their
 * private subnets and security groups from config `aws.vpc`; nothing is
 * created in their network). The worker and the sweeper invoke it for
 * integrations with `via: vpc`. It has no AWS permissions beyond writing its
 * logs and managing its network interfaces (AWS's managed
 * AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole), no
 * secrets, and no internet path: it reaches exactly what the security
 * group's egress allows.
 */
import type { BundledFile, DeploymentSettings } from './config.ts';
import { CONFIG_ENVIRONMENT, functionDefaults } from './function-defaults.ts';

export function createDeviceRelay(settings: DeploymentSettings, bundle: { configFile: string; extraFiles: BundledFile[] }) {
  const relay = settings.deviceRelay;
  if (!relay) return undefined;
  return new sst.aws.Function('DeviceRelay', {
    ...functionDefaults(bundle.configFile, bundle.extraFiles),
    handler: 'functions/device-relay.handler',
    description: 'Flowtriq Relay: forwards firewall API calls inside your VPC',
    memory: `${relay.memoryMb} MB`,
    timeout: `${relay.timeoutSeconds} seconds`,
    environment: { ...CONFIG_ENVIRONMENT },
    vpc: { privateSubnets: relay.subnetIds, securityGroups: relay.securityGroupIds },
  });
}
