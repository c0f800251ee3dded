/**
 * Configuration of the `hetzner-robot` integration: the Robot webservice's
 * stateless firewall of one or more dedicated servers, switched on
 * (status=active) for the length of an attack and put back exactly as it
 * was afterwards.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `holdDown`, `via`, `type: 'hetzner-robot'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { requestTimeoutOption } from '../config-options.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { formatCidr, parseCidr } from '../../ip/cidr.ts';

/** Robot refuses more than 10 input rules per server (409 FIREWALL_RULE_LIMIT_EXCEEDED). */
export const HETZNER_ROBOT_MAX_INPUT_RULES = 10;
/** The webservice's only address. */
export const HETZNER_ROBOT_URL = 'https://robot-ws.your-server.de';

export const HETZNER_PROTOCOLS = ['tcp', 'udp', 'gre', 'icmp', 'ipip', 'ah', 'esp'] as const;
const TCP_FLAG = '(?:syn|ack|fin|rst|psh|urg)';
const TCP_FLAGS = new RegExp(`^${TCP_FLAG}(?:[|&]${TCP_FLAG})*$`);
const PORT_OR_RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** A port or a range, written as a number or a string; always a string after parsing (Robot's form). */
function portOrRange(field: string) {
  const message = `${field} must be a port (0–65535) or a range such as 32768-65535`;
  const valid = (value: string) => {
    const match = PORT_OR_RANGE.exec(value);
    if (!match) return false;
    const low = Number(match[1]);
    const high = match[2] === undefined ? low : Number(match[2]);
    return low >= 0 && high <= 65535 && low <= high;
  };
  // Each member converts on its own (a union, not a number|string pipe: the JSON Schema generator reads that as a duration).
  return z.union(
    [z.number().int().min(0).max(65535).transform(String), z.string().refine(valid, message)],
    { error: message },
  );
}

const cidr = (field: string) =>
  z.string().transform((value, ctx) => {
    const parsed = parseCidr(value);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: `${field} must be an address or CIDR such as 198.51.100.0/24: ${parsed.reason}` });
      return z.NEVER;
    }
    return formatCidr(parsed.cidr);
  });

/** One input rule of the lockdown, in the relay's camelCase; sent as Robot's `rules[input][i][…]`. */
export const hetznerRobotRuleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9 _.:,()/+-]{1,64}$/, 'use 1–64 letters, digits, spaces or _ . : , ( ) / + -')
      .optional()
      .describe('Rule name shown in Robot.'),
    ipVersion: z
      .enum(['ipv4', 'ipv6'], { error: 'must be ipv4 or ipv6' })
      .optional()
      .describe('ipv4 or ipv6; derived from srcIp/dstIp when absent; both when neither is given.'),
    srcIp: cidr('srcIp').optional().describe('Source address or CIDR; any when absent.'),
    dstIp: cidr('dstIp').optional().describe('Destination address or CIDR; any when absent.'),
    srcPort: portOrRange('srcPort').optional().describe('Source port or range (tcp/udp only); any when absent.'),
    dstPort: portOrRange('dstPort').optional().describe('Destination port or range (tcp/udp only); any when absent.'),
    protocol: z
      .enum(HETZNER_PROTOCOLS, { error: `must be one of ${HETZNER_PROTOCOLS.join(', ')}` })
      .optional()
      .describe('Protocol above IP; any when absent.'),
    tcpFlags: z
      .string()
      .regex(TCP_FLAGS, 'write TCP flags such as ack, syn|ack or syn&ack (syn, ack, fin, rst, psh, urg)')
      .optional()
      .describe('TCP flags (protocol tcp only), e.g. ack to let replies to outgoing connections in.'),
    action: z.enum(['accept', 'discard'], { error: 'must be accept or discard' }).describe('What happens to a matching packet.'),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const families = [rule.srcIp, rule.dstIp]
      .filter((value): value is string => value !== undefined)
      .map((value) => (value.includes(':') ? 'ipv6' : 'ipv4'));
    if (new Set(families).size > 1) {
      ctx.addIssue({ code: 'custom', path: ['dstIp'], message: 'srcIp and dstIp must be of the same IP version' });
    } else if (rule.ipVersion !== undefined && families.length > 0 && families[0] !== rule.ipVersion) {
      ctx.addIssue({ code: 'custom', path: ['ipVersion'], message: `is ${rule.ipVersion} but the rule's address is ${families[0]}` });
    }
    const portsAllowed = rule.protocol === 'tcp' || rule.protocol === 'udp';
    for (const field of ['srcPort', 'dstPort'] as const) {
      if (rule[field] !== undefined && !portsAllowed) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'needs protocol: tcp or protocol: udp' });
      }
    }
    if (rule.tcpFlags !== undefined && rule.protocol !== 'tcp') {
      ctx.addIssue({ code: 'custom', path: ['tcpFlags'], message: 'needs protocol: tcp' });
    }
  })
  .transform((rule) => {
    const derived = rule.srcIp ?? rule.dstIp;
    const ipVersion = rule.ipVersion ?? (derived === undefined ? undefined : derived.includes(':') ? 'ipv6' : 'ipv4');
    return { ...rule, ...(ipVersion === undefined ? {} : { ipVersion }) };
  });
export type HetznerRobotRule = z.output<typeof hetznerRobotRuleSchema>;

/** `integrations[].options` of a `hetzner-robot` integration. */
export const hetznerRobotOptionsSchema = z
  .object({
    servers: z
      .array(z.number({ error: 'must be a server number such as 1234567' }).int().positive('must be a server number such as 1234567'))
      .min(1, 'list at least one server number (Robot → Server, the number before the server name)')
      .max(20, 'at most 20 servers per integration; split them over several integrations')
      .refine((servers) => new Set(servers).size === servers.length, 'lists a server twice')
      .describe('Server numbers whose Robot firewall the relay switches on during an attack (the number, not the IP).'),
    inputRules: z
      .array(hetznerRobotRuleSchema)
      .min(1, 'list at least one rule, or leave inputRules out to keep the rules configured in Robot')
      .max(
        HETZNER_ROBOT_MAX_INPUT_RULES,
        `Robot accepts at most ${HETZNER_ROBOT_MAX_INPUT_RULES} input rules per server (FIREWALL_RULE_LIMIT_EXCEEDED); merge rules with CIDRs or port ranges`,
      )
      .optional()
      .describe(
        'Input rules in force during the attack, top-down. Absent: the rules already configured in Robot are kept and only the status is switched on.',
      ),
    filterIpv6: z
      .boolean()
      .optional()
      .describe('filter_ipv6 during the attack; absent: left as configured in Robot.'),
    pollInterval: duration({ min: '2s', max: '1m' })
      .prefault('10s')
      .describe('How often the relay reads the firewall while Robot reports "in process".'),
    waitFor: duration({ min: '0s', max: '5m' })
      .prefault('60s')
      .describe('Longest one activate/restore call waits for "in process" to end before reporting "not confirmed yet" and looking again later.'),
    rateLimitPause: duration({ min: '1m', max: '1h' })
      .prefault('10m')
      .describe('How long the relay sends nothing after Robot answers 403 RATE_LIMIT_EXCEEDED (500 firewall requests per hour).'),
    timeout: requestTimeoutOption('30s'),
  })
  .strict();
export type HetznerRobotOptions = z.output<typeof hetznerRobotOptionsSchema>;

/** `integrations[].secrets` of a `hetzner-robot` integration. */
export const hetznerRobotSecretsSchema = z
  .object({
    username: secretRefSchema.describe('The Robot webservice user (#ws+XXXXXXX), not the Robot login.'),
    password: secretRefSchema.describe('Its password.'),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface HetznerRobotSecrets {
  username: string;
  password: string;
}
