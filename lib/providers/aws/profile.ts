/**
 * Static keys from a named profile of the AWS shared files, for a one-box
 * relay on a host where the operator keeps them there rather than in the
 * environment (`aws configure`).
 *
 * Read when the integration uses the default credential variables and
 * `AWS_ACCESS_KEY_ID` is not set: the profile is `AWS_PROFILE` (or
 * `default`), looked up in the credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
 * default `~/.aws/credentials`, section `[name]`) and then the config file
 * (`AWS_CONFIG_FILE`, default `~/.aws/config`, section `[profile name]`, or
 * `[default]`), as the AWS CLI does.
 *
 * Only static keys (`aws_access_key_id`, `aws_secret_access_key`, and
 * `aws_session_token` for temporary ones) are read. A profile that assumes a
 * role, uses SSO or runs a credential process is refused with the command
 * that turns it into environment variables: the relay does not call STS.
 *
 * Values are returned to the caller only; no message built here contains one.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RelayError } from '../../errors.ts';
import type { AwsCredentials } from './sigv4.ts';

/** A profile that exists but cannot give static keys, or that lacks one of them. */
export class AwsProfileError extends RelayError {
  constructor(message: string) {
    super('secret_missing', message);
  }
}

export interface ProfileSources {
  env: NodeJS.ProcessEnv;
  /** Returns the file's text, or undefined when it does not exist. */
  readFile?: (path: string) => string | undefined;
  home?: string;
}

type Sections = Map<string, Map<string, string>>;

/** Keys that make a profile something other than static keys. */
const INDIRECT_KEYS = ['role_arn', 'sso_session', 'sso_start_url', 'credential_process', 'web_identity_token_file', 'source_profile'];

/** INI as the AWS shared files write it: `[section]`, `key = value`, `#`/`;` comments. Nested (indented) settings are skipped. */
export function parseIni(text: string): Sections {
  const sections: Sections = new Map();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s/.test(raw) && current !== undefined) continue;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      const name = section[1]!;
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (pair && current) current.set(pair[1]!.toLowerCase(), pair[2]!);
  }
  return sections;
}

function defaultReadFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AwsProfileError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * The profile's static keys, or undefined when neither file has the
 * profile (the caller then reports the missing environment variables).
 * @throws AwsProfileError when the profile exists but gives no static keys.
 */
export function readProfileCredentials(sources: ProfileSources): { credentials: AwsCredentials; profile: string; file: string } | undefined {
  const { env } = sources;
  const readFile = sources.readFile ?? defaultReadFile;
  const home = sources.home ?? homedir();
  const profile = env.AWS_PROFILE?.trim() || env.AWS_DEFAULT_PROFILE?.trim() || 'default';
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE?.trim() || join(home, '.aws', 'credentials');
  const configFile = env.AWS_CONFIG_FILE?.trim() || join(home, '.aws', 'config');

  const candidates: { file: string; section: string }[] = [
    { file: credentialsFile, section: profile },
    { file: configFile, section: profile === 'default' ? 'default' : `profile ${profile}` },
  ];
  for (const { file, section } of candidates) {
    const text = readFile(file);
    if (text === undefined) continue;
    const values = parseIni(text).get(section);
    if (values === undefined) continue;
    const accessKeyId = values.get('aws_access_key_id');
    const secretAccessKey = values.get('aws_secret_access_key');
    if (accessKeyId && secretAccessKey) {
      const sessionToken = values.get('aws_session_token');
      return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }, profile, file };
    }
    const indirect = INDIRECT_KEYS.find((key) => values.has(key));
    if (indirect !== undefined) {
      throw new AwsProfileError(
        `AWS profile "${profile}" in ${file} gets its credentials through ${indirect}, which the relay does not follow; ` +
          `export them first: eval "$(aws configure export-credentials --profile ${profile} --format env)" — then start the relay (restart it when they expire)`,
      );
    }
    throw new AwsProfileError(
      `AWS profile "${profile}" in ${file} has no ${accessKeyId ? 'aws_secret_access_key' : 'aws_access_key_id'}; run: aws configure --profile ${profile}`,
    );
  }
  return undefined;
}
