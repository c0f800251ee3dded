import { describe, expect, it } from 'vitest';
import { closest, editDistance, integerOption, parseCommandArgs, portOption, secondsOption, urlOption, type OptionSpec } from '../../lib/cli/args.ts';
import { CliUsageError } from '../../lib/cli/errors.ts';

const OPTIONS: OptionSpec[] = [
  { name: 'ips', type: 'string', value: '<n>', description: 'ips' },
  { name: 'keep', type: 'boolean', description: 'keep' },
];
const OWNERS = new Map([['json', ['status', 'sweep']], ['ips', ['send-test']], ['keep', ['send-test']]]);

function usageError(act: () => unknown): string {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(CliUsageError);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('parseCommandArgs', () => {
  it('returns the values and positionals of known options', () => {
    // Act
    const parsed = parseCommandArgs(['--ips', '5', 'x', '--keep', '--config=c.yaml', '-h'], 'send-test', OPTIONS, OWNERS);
    // Assess
    expect(parsed).toEqual({ positionals: ['x'], values: { ips: '5', keep: true, config: 'c.yaml', help: true } });
  });

  it('refuses an unknown option naming the closest spelling and where help is', () => {
    // Act
    const message = usageError(() => parseCommandArgs(['--ipz', '5'], 'send-test', OPTIONS, OWNERS));
    // Assess
    expect(message).toBe('unknown option --ipz for relay send-test; did you mean --ips? (see relay send-test --help)');
  });

  it('says which commands take an option given to the wrong one', () => {
    // Act
    const exact = usageError(() => parseCommandArgs(['--json'], 'send-test', OPTIONS, OWNERS));
    const typo = usageError(() => parseCommandArgs(['--jsno'], 'send-test', OPTIONS, OWNERS));
    // Assess
    expect(exact).toMatch(/^--json is an option of relay status, relay sweep, not of relay send-test/);
    expect(typo).toMatch(/did you mean --json\? \(an option of relay status, relay sweep\)/);
  });

  it('refuses a missing value and a value given to a flag', () => {
    // Act
    const missing = usageError(() => parseCommandArgs(['--ips'], 'send-test', OPTIONS, OWNERS));
    const swallowed = usageError(() => parseCommandArgs(['--ips', '--keep'], 'send-test', OPTIONS, OWNERS));
    const flag = usageError(() => parseCommandArgs(['--keep=yes'], 'send-test', OPTIONS, OWNERS));
    // Assess
    expect(missing).toMatch(/^--ips needs a value: --ips <n>/);
    expect(swallowed).toMatch(/^--ips needs a value/);
    expect(flag).toBe('--keep takes no value (remove "=yes")');
  });
});

describe('suggestions', () => {
  it('counts a swap of neighbours as one edit and suggests only likely typos', () => {
    // Act / Assess
    expect(editDistance('stauts', 'status')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('stauts', ['start', 'status', 'sweep'])).toBe('status');
    expect(closest('chek-config', ['check-config', 'drain'])).toBe('check-config');
    expect(closest('xyzzy', ['start', 'status'])).toBeUndefined();
  });
});

describe('option values', () => {
  it('reads whole numbers within range and refuses the rest with the range', () => {
    // Act / Assess
    expect(integerOption({}, 'ips', { min: 1, max: 10, fallback: 3 })).toBe(3);
    expect(integerOption({ ips: '10' }, 'ips', { min: 1, max: 10, fallback: 3 })).toBe(10);
    for (const bad of ['11', '0', '-1', '2.5', 'abc', '']) {
      expect(usageError(() => integerOption({ ips: bad }, 'ips', { min: 1, max: 10, fallback: 3, hint: 'why' }))).toBe(`--ips ${bad}: give a whole number from 1 to 10 (why)`);
    }
  });

  it('reads seconds, ports and URLs, refusing malformed ones', () => {
    // Act / Assess
    expect(secondsOption({ wait: '0.5' }, 'wait', { max: 60, fallback: 2 })).toBe(0.5);
    expect(usageError(() => secondsOption({ wait: '-1' }, 'wait', { max: 60, fallback: 2 }))).toMatch(/^--wait -1: give a number of seconds from 0 to 60/);
    expect(portOption({ port: '0' })).toBe(0);
    expect(portOption({})).toBeUndefined();
    expect(usageError(() => portOption({ port: '70000' }))).toMatch(/^--port 70000: give a whole number from 0 to 65535/);
    expect(urlOption({ url: 'http://127.0.0.1:1/x' }, 'url')).toBe('http://127.0.0.1:1/x');
    expect(usageError(() => urlOption({ url: 'localhost:8787' }, 'url'))).toMatch(/use an http:\/\/ or https:\/\/ URL|give an absolute URL/);
    expect(usageError(() => urlOption({ url: 'not a url' }, 'url'))).toMatch(/give an absolute URL/);
  });
});
