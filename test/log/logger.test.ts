import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../lib/log/logger.ts';
import { REDACTED } from '../../lib/log/redact.ts';

interface Written {
  stream: 'stdout' | 'stderr';
  chunk: string;
}

/**
 * Runs `work` with process.stdout.write and process.stderr.write intercepted
 * (Powertools Logger writes through its own Console on those streams: debug
 * and info to stdout, warn and error to stderr) and restores them after.
 */
function capture(work: () => void): Written[] {
  const written: Written[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const interceptor = (stream: Written['stream']) =>
    ((chunk: string | Uint8Array) => {
      written.push({ stream, chunk: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8') });
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = interceptor('stdout');
  process.stderr.write = interceptor('stderr');
  try {
    work();
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  return written;
}

/** Every captured chunk must be exactly one JSON line; returns the parsed lines. */
function jsonLines(written: Written[]): Record<string, unknown>[] {
  return written.map(({ chunk }) => {
    expect(chunk.endsWith('\n')).toBe(true);
    expect(chunk.slice(0, -1)).not.toContain('\n');
    return JSON.parse(chunk) as Record<string, unknown>;
  });
}

/** Environment variables that change Powertools' level or console; cleared for each test. */
const ENV_KEYS = ['RELAY_LOG_LEVEL', 'POWERTOOLS_LOG_LEVEL', 'LOG_LEVEL', 'AWS_LAMBDA_LOG_LEVEL', 'POWERTOOLS_DEV'] as const;
let savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};

beforeEach(() => {
  savedEnv = {};
  for (const key of ENV_KEYS) {
    if (process.env[key] !== undefined) savedEnv[key] = process.env[key];
    delete process.env[key];
  }
});

afterEach(() => {
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

describe('createLogger', () => {
  it('writes one JSON line per call with the message, level, service and attributes', () => {
    // Prepare
    const logger = createLogger({ level: 'DEBUG' });
    // Act
    const written = capture(() => {
      logger.info('block added', { integration: 'fw', ips: ['45.0.0.1', '45.0.0.2'], count: 2 });
    });
    // Assess
    const lines = jsonLines(written);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      message: 'block added',
      service: 'flowtriq-relay',
      integration: 'fw',
      ips: ['45.0.0.1', '45.0.0.2'],
      count: 2,
    });
    expect(Date.parse(String(lines[0]!.timestamp))).not.toBeNaN();
  });

  it('writes each level as its own line: debug and info on stdout, warn and error on stderr', () => {
    // Prepare
    const logger = createLogger({ level: 'DEBUG' });
    // Act
    const written = capture(() => {
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e');
    });
    // Assess
    const lines = jsonLines(written);
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['DEBUG', 'd'],
      ['INFO', 'i'],
      ['WARN', 'w'],
      ['ERROR', 'e'],
    ]);
    expect(written.map((entry) => entry.stream)).toEqual(['stdout', 'stdout', 'stderr', 'stderr']);
  });

  it('never writes a secret value, in call attributes, persistent attributes or child attributes', () => {
    // Prepare
    const secret = 'whsec_do_not_log_0123456789';
    const logger = createLogger({ level: 'DEBUG', attributes: { component: 'intake', webhookSecret: secret } });
    // Act
    const written = capture(() => {
      logger.info('configured', { apiKey: secret, nested: { options: { password: secret } }, list: [{ token: secret }] });
      logger.child({ authorization: `Bearer ${secret}` }).warn('child line', { headers: { cookie: secret } });
    });
    // Assess
    const raw = written.map((entry) => entry.chunk).join('');
    expect(raw).not.toContain(secret);
    const lines = jsonLines(written);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      component: 'intake',
      webhookSecret: REDACTED,
      apiKey: REDACTED,
      nested: { options: { password: REDACTED } },
      list: [{ token: REDACTED }],
    });
    expect(lines[1]).toMatchObject({ authorization: REDACTED, headers: { cookie: REDACTED } });
  });

  it('writes an Error attribute as { name, message }', () => {
    // Prepare
    const logger = createLogger({ level: 'INFO' });
    // Act
    const written = capture(() => logger.error('provider failed', { error: new RangeError('batch too large') }));
    // Assess
    const [line] = jsonLines(written);
    expect(line?.error).toEqual({ name: 'RangeError', message: 'batch too large' });
  });

  it('adds persistent attributes to every line', () => {
    // Prepare
    const logger = createLogger({ level: 'INFO', attributes: { component: 'worker', owner: 'box-1' } });
    // Act
    const written = capture(() => {
      logger.info('one');
      logger.info('two', { extra: true });
    });
    // Assess
    const lines = jsonLines(written);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatchObject({ component: 'worker', owner: 'box-1' });
    expect(lines[1]).toMatchObject({ extra: true });
  });

  it('gives child loggers their own attributes on top of the parent ones, without changing the parent', () => {
    // Prepare
    const parent = createLogger({ level: 'INFO', attributes: { component: 'worker' } });
    const child = parent.child({ incident: 'inc-1' });
    const grandchild = child.child({ integration: 'fw' });
    // Act
    const written = capture(() => {
      child.info('from child');
      grandchild.info('from grandchild');
      parent.info('from parent');
    });
    // Assess
    const lines = jsonLines(written);
    expect(lines[0]).toMatchObject({ message: 'from child', component: 'worker', incident: 'inc-1' });
    expect(lines[1]).toMatchObject({ message: 'from grandchild', component: 'worker', incident: 'inc-1', integration: 'fw' });
    expect(lines[2]).toMatchObject({ message: 'from parent', component: 'worker' });
    expect(lines[2]).not.toHaveProperty('incident');
    expect(lines[0]).not.toHaveProperty('integration');
  });

  it('drops lines below options.level', () => {
    // Prepare
    const logger = createLogger({ level: 'WARN' });
    // Act
    const written = capture(() => {
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e');
    });
    // Assess
    expect(jsonLines(written).map((line) => line.message)).toEqual(['w', 'e']);
  });

  it('keeps the level in child loggers', () => {
    // Prepare
    const child = createLogger({ level: 'ERROR' }).child({ incident: 'inc-1' });
    // Act
    const written = capture(() => {
      child.warn('w');
      child.error('e');
    });
    // Assess
    expect(jsonLines(written).map((line) => line.message)).toEqual(['e']);
  });

  it('writes nothing at level SILENT', () => {
    // Prepare
    const logger = createLogger({ level: 'SILENT' });
    // Act
    const written = capture(() => {
      logger.info('i');
      logger.error('e');
    });
    // Assess
    expect(written).toEqual([]);
  });

  it('defaults to INFO when neither options.level nor RELAY_LOG_LEVEL is set', () => {
    // Prepare
    const logger = createLogger();
    // Act
    const written = capture(() => {
      logger.debug('d');
      logger.info('i');
    });
    // Assess
    expect(jsonLines(written).map((line) => line.message)).toEqual(['i']);
  });

  it('takes the level from RELAY_LOG_LEVEL, in any case', () => {
    // Prepare
    process.env.RELAY_LOG_LEVEL = 'debug';
    const verbose = createLogger();
    process.env.RELAY_LOG_LEVEL = 'Error';
    const quiet = createLogger();
    // Act
    const written = capture(() => {
      verbose.debug('verbose debug');
      quiet.warn('quiet warn');
      quiet.error('quiet error');
    });
    // Assess
    expect(jsonLines(written).map((line) => line.message)).toEqual(['verbose debug', 'quiet error']);
  });

  it('lets options.level win over RELAY_LOG_LEVEL', () => {
    // Prepare
    process.env.RELAY_LOG_LEVEL = 'ERROR';
    const logger = createLogger({ level: 'DEBUG' });
    // Act
    const written = capture(() => logger.debug('d'));
    // Assess
    expect(jsonLines(written).map((line) => line.message)).toEqual(['d']);
  });
});

describe('silentLogger', () => {
  it('writes nothing at any level, nor through its children', () => {
    // Act
    const written = capture(() => {
      silentLogger.debug('d', { token: 'x' });
      silentLogger.info('i');
      silentLogger.warn('w');
      silentLogger.error('e', { error: new Error('boom') });
      silentLogger.child({ incident: 'inc-1' }).error('child e');
    });
    // Assess
    expect(written).toEqual([]);
  });
});
