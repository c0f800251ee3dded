import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureLocalSecret, LOCAL_SECRET_FILE, readLocalSecret } from '../../lib/runtime/local-secret.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'relay-local-secret-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('ensureLocalSecret', () => {
  it('creates a 64-hex-character secret in a new directory, file mode 0600, directory mode 0700', () => {
    // Prepare
    const dir = join(root, 'state', 'relay');
    // Act
    const result = ensureLocalSecret(dir);
    // Assess
    expect(result.created).toBe(true);
    expect(result.path).toBe(join(dir, LOCAL_SECRET_FILE));
    expect(result.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(result.path, 'utf8')).toBe(`${result.secret}\n`);
    expect(modeOf(result.path)).toBe(0o600);
    expect(modeOf(dir)).toBe(0o700);
  });

  it('names the file webhook-secret', () => {
    // Assess
    expect(LOCAL_SECRET_FILE).toBe('webhook-secret');
  });

  it('reuses the secret on the next call without rewriting it', () => {
    // Prepare
    const dir = join(root, 'relay');
    const first = ensureLocalSecret(dir);
    const writtenAt = statSync(first.path).mtimeMs;
    // Act
    const second = ensureLocalSecret(dir);
    // Assess
    expect(second).toEqual({ secret: first.secret, path: first.path, created: false });
    expect(statSync(first.path).mtimeMs).toBe(writtenAt);
  });

  it('makes a different secret for each new directory', () => {
    // Act
    const a = ensureLocalSecret(join(root, 'a'));
    const b = ensureLocalSecret(join(root, 'b'));
    // Assess
    expect(a.secret).not.toBe(b.secret);
  });

  it('reuses an existing secret of 32 characters or more, trimmed', () => {
    // Prepare
    const dir = join(root, 'relay');
    mkdirSync(dir);
    const existing = 'operator-chosen-secret-0123456789'; // 33 characters
    writeFileSync(join(dir, LOCAL_SECRET_FILE), `  ${existing}\n\n`, { mode: 0o600 });
    // Act
    const result = ensureLocalSecret(dir);
    // Assess
    expect(result).toEqual({ secret: existing, path: join(dir, LOCAL_SECRET_FILE), created: false });
  });

  it('replaces a too-short secret file with a fresh secret and mode 0600', () => {
    // Prepare
    const dir = join(root, 'relay');
    mkdirSync(dir);
    const path = join(dir, LOCAL_SECRET_FILE);
    writeFileSync(path, 'short-secret\n');
    chmodSync(path, 0o644);
    // Act
    const result = ensureLocalSecret(dir);
    // Assess
    expect(result.created).toBe(true);
    expect(result.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(path, 'utf8')).toBe(`${result.secret}\n`);
    expect(modeOf(path)).toBe(0o600);
  });

  it('replaces an empty secret file', () => {
    // Prepare
    const dir = join(root, 'relay');
    mkdirSync(dir);
    writeFileSync(join(dir, LOCAL_SECRET_FILE), '   \n');
    // Act
    const result = ensureLocalSecret(dir);
    // Assess
    expect(result.created).toBe(true);
    expect(result.secret).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('readLocalSecret', () => {
  it('returns undefined when the directory does not exist', () => {
    // Act
    const secret = readLocalSecret(join(root, 'missing'));
    // Assess
    expect(secret).toBeUndefined();
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });

  it('returns undefined when the directory has no secret file', () => {
    // Act
    const secret = readLocalSecret(root);
    // Assess
    expect(secret).toBeUndefined();
  });

  it('returns undefined for an empty secret file', () => {
    // Prepare
    writeFileSync(join(root, LOCAL_SECRET_FILE), '\n');
    // Act
    const secret = readLocalSecret(root);
    // Assess
    expect(secret).toBeUndefined();
  });

  it('returns the secret ensureLocalSecret made', () => {
    // Prepare
    const { secret } = ensureLocalSecret(root);
    // Act
    const read = readLocalSecret(root);
    // Assess
    expect(read).toBe(secret);
  });
});
