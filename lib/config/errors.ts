import { RelayError } from '../errors.ts';

export interface ConfigIssue {
  /** Where in the file, e.g. `integrations[1].options.url`. */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** The configuration file is missing, unreadable or invalid. */
export class ConfigError extends RelayError {
  readonly file: string | undefined;
  readonly issues: ConfigIssue[];

  constructor(file: string | undefined, issues: ConfigIssue[]) {
    const where = file ?? 'configuration';
    super(
      'config_invalid',
      `${where} is invalid:\n${issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n')}`,
    );
    this.file = file;
    this.issues = issues;
  }
}
