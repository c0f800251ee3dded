import { describe, expect, it } from 'vitest';
import { CliFailure, CliUsageError, errorMessage, exitCodeOf } from '../../lib/cli/errors.ts';
import { listenFailure } from '../../lib/cli/commands/start.ts';
import { ConfigError } from '../../lib/config/errors.ts';
import { RelayError } from '../../lib/errors.ts';

describe('exit codes and messages', () => {
  it('exits 2 for usage and configuration errors, 1 for failures and the unexpected', () => {
    // Act / Assess
    expect(exitCodeOf(new CliUsageError('x'))).toBe(2);
    expect(exitCodeOf(new ConfigError('f', [{ path: 'a', message: 'b' }]))).toBe(2);
    expect(exitCodeOf(new RelayError('usage', 'x'))).toBe(2);
    expect(exitCodeOf(new CliFailure('port_in_use', 'x'))).toBe(1);
    expect(exitCodeOf(new TypeError('boom'))).toBe(1);
  });

  it('gives an unexpected error one line, and the stack only with RELAY_DEBUG=1', () => {
    // Prepare
    const error = new TypeError('boom\nsecond line');
    // Act
    const plain = errorMessage(error, {});
    const debug = errorMessage(error, { RELAY_DEBUG: '1' });
    // Assess
    expect(plain).toBe('TypeError: boom (unexpected; run again with RELAY_DEBUG=1 for the stack, and please report it)');
    expect(debug).toContain('at ');
  });
});

describe('listenFailure', () => {
  it('names the busy port and suggests another and --port 0', () => {
    // Prepare
    const error = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    // Act
    const failure = listenFailure(error, '127.0.0.1', 8787);
    // Assess
    expect(failure).toBeInstanceOf(CliFailure);
    expect(failure!.message).toMatch(/^port 8787 on 127\.0\.0\.1 is already in use/);
    expect(failure!.message).toContain('relay start --port 8788');
    expect(failure!.message).toContain('--port 0');
  });

  it('explains a privileged port and a host that is not local; leaves other errors alone', () => {
    // Act
    const denied = listenFailure(Object.assign(new Error('x'), { code: 'EACCES' }), '0.0.0.0', 80);
    const notLocal = listenFailure(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }), '203.0.113.9', 8787);
    const other = listenFailure(new Error('other'), '127.0.0.1', 8787);
    // Assess
    expect(denied!.message).toMatch(/ports below 1024 need privileges/);
    expect(notLocal!.message).toMatch(/203\.0\.113\.9 is not an address of this machine/);
    expect(other).toBeUndefined();
  });
});
