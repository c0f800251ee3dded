/**
 * The part of the RouterOS scripting language the simulator runs: exactly
 * what the adapter emits, nothing more.
 *
 * ```
 * script    := statement { (";" | newline) statement }
 * statement := ":do" "{" script "}" "on-error=" "{" script "}"
 *            | ":put" value
 *            | "/ip/firewall/address-list/add" { name=value }          (and /ipv6/…)
 *            | "/ip/firewall/address-list/remove" find
 *            | "/ip/firewall/address-list/set" find { name=value }
 * find      := "[find where" name=value { "and" name=value } "]"
 * value     := "…" (no \ $ [ ] or control characters inside) | word of [A-Za-z0-9_.:/*-]
 * ```
 *
 * Everything else is rejected the way RouterOS rejects a script it cannot
 * parse (`syntax error (line 1 column 7)`, `bad command name reset (…)`),
 * before anything runs. That includes things real RouterOS would accept and
 * act on (variables, escapes, `[…]` command substitution, other menus), so a
 * value that escaped the adapter's checks shows up as a failed request and a
 * recorded rejection instead of being quietly "executed".
 */
import { type AddressTable, CommandFailure, type Fields } from './address-table.ts';

/** The script was refused before it ran. `detail` is what RouterOS would say; `reason` explains it for tests. */
export class ScriptSyntaxError extends Error {
  readonly detail: string;
  readonly reason: string;
  constructor(detail: string, reason: string) {
    super(`${detail}: ${reason}`);
    this.detail = detail;
    this.reason = reason;
  }
}

/** The script ran past the session limit; RouterOS closes the session. */
export class SessionClosed extends Error {}

export type Statement =
  | { kind: 'do'; body: Statement[]; onError: Statement[] }
  | { kind: 'put'; text: string }
  | { kind: 'command'; family: 4 | 6; verb: 'add' | 'remove' | 'set'; where?: Fields; fields: Fields };

const COMMAND = /^\/(ip|ipv6)\/firewall\/address-list\/(add|remove|set)$/;
const WORD = /[A-Za-z0-9_.:/*-]/;
const NAME = /^[a-z][a-z-]*/;
const ARGUMENTS: Record<'add' | 'remove' | 'set', ReadonlySet<string>> = {
  add: new Set(['list', 'address', 'timeout', 'comment', 'disabled']),
  remove: new Set(),
  set: new Set(['timeout', 'comment', 'disabled']),
};
const CONDITIONS = new Set(['list', 'address', 'comment', 'disabled', 'dynamic']);

class Parser {
  readonly #src: string;
  #pos = 0;

  constructor(source: string) {
    this.#src = source;
  }

  parse(): Statement[] {
    return this.#block(false);
  }

  #fail(kind: 'syntax' | 'end' | 'command', reason: string, word = ''): never {
    const before = this.#src.slice(0, this.#pos);
    const line = before.split('\n').length;
    const column = this.#pos - before.lastIndexOf('\n');
    const at = `(line ${line} column ${column})`;
    const detail =
      kind === 'command' ? `bad command name ${word} ${at}` : kind === 'end' ? `expected end of command ${at}` : `syntax error ${at}`;
    throw new ScriptSyntaxError(detail, reason);
  }

  #peek(offset = 0): string | undefined {
    return this.#src[this.#pos + offset];
  }

  #spaces(): number {
    const start = this.#pos;
    while (this.#peek() === ' ' || this.#peek() === '\t') this.#pos += 1;
    return this.#pos - start;
  }

  #expect(text: string): void {
    if (!this.#src.startsWith(text, this.#pos)) this.#fail('syntax', `expected "${text}"`);
    this.#pos += text.length;
  }

  #atEndOfCommand(): boolean {
    const c = this.#peek();
    return c === undefined || c === ';' || c === '\n' || c === '\r' || c === '}';
  }

  #block(closing: boolean): Statement[] {
    const out: Statement[] = [];
    for (let guard = 0; guard < 1_000_000; guard += 1) {
      this.#spaces();
      const c = this.#peek();
      if (c === undefined) {
        if (closing) this.#fail('syntax', 'a "{" is never closed');
        return out;
      }
      if (c === '}') {
        if (!closing) this.#fail('syntax', 'a "}" closes nothing');
        return out;
      }
      if (c === ';' || c === '\n' || c === '\r') {
        this.#pos += 1;
        continue;
      }
      out.push(this.#statement());
      this.#spaces();
      if (!this.#atEndOfCommand()) this.#fail('end', 'more text after a complete command');
    }
    this.#fail('syntax', 'script too long');
  }

  #statement(): Statement {
    const c = this.#peek();
    if (this.#src.startsWith(':do', this.#pos) && (this.#peek(3) === ' ' || this.#peek(3) === '{')) return this.#do();
    if (this.#src.startsWith(':put', this.#pos) && this.#peek(4) === ' ') return this.#put();
    if (c === '/') return this.#command();
    const word = /^[^\s;{}[\]"]*/.exec(this.#src.slice(this.#pos))?.[0] ?? '';
    this.#fail('command', `"${word.slice(0, 40)}" is outside the simulated subset`, word.replace(/^[:/]+/, '').split('/').pop());
  }

  #do(): Statement {
    this.#expect(':do');
    this.#spaces();
    this.#expect('{');
    const body = this.#block(true);
    this.#expect('}');
    this.#spaces();
    this.#expect('on-error=');
    this.#expect('{');
    const onError = this.#block(true);
    this.#expect('}');
    return { kind: 'do', body, onError };
  }

  #put(): Statement {
    this.#expect(':put');
    this.#spaces();
    return { kind: 'put', text: this.#value() };
  }

  #command(): Statement {
    const path = /^[^\s;{}[\]"]*/.exec(this.#src.slice(this.#pos))?.[0] ?? '';
    const match = COMMAND.exec(path);
    if (!match) this.#fail('command', `menu or command "${path.slice(0, 60)}" is outside the simulated subset`, path.split('/').pop());
    this.#pos += path.length;
    const family = match[1] === 'ip' ? 4 : 6;
    const verb = match[2] as 'add' | 'remove' | 'set';
    const fields: Fields = {};
    let where: Fields | undefined;
    for (let guard = 0; guard < 100; guard += 1) {
      const spaced = this.#spaces() > 0;
      if (this.#atEndOfCommand()) break;
      if (!spaced) this.#fail('end', 'arguments must be separated by a space');
      if (this.#peek() === '[') {
        if (verb === 'add' || where !== undefined || Object.keys(fields).length > 0) this.#fail('syntax', '[find …] in the wrong place');
        where = this.#find();
        continue;
      }
      const name = this.#name();
      if (!ARGUMENTS[verb].has(name)) this.#fail('end', `"${name}" is not an argument of ${verb} in the simulated subset`);
      if (name in fields) this.#fail('syntax', `argument ${name} given twice`);
      this.#expect('=');
      fields[name] = this.#value();
    }
    if (verb !== 'add' && where === undefined) this.#fail('syntax', `${verb} needs [find where …] in the simulated subset`);
    if (verb === 'set' && Object.keys(fields).length === 0) this.#fail('syntax', 'set without a value');
    return where === undefined ? { kind: 'command', family, verb, fields } : { kind: 'command', family, verb, where, fields };
  }

  #find(): Fields {
    this.#expect('[');
    this.#spaces();
    this.#expect('find');
    if (this.#spaces() === 0) this.#fail('syntax', 'expected "find where"');
    this.#expect('where');
    const conditions: Fields = {};
    for (let guard = 0; guard < 20; guard += 1) {
      if (this.#spaces() === 0) this.#fail('syntax', 'expected a space before a condition');
      const name = this.#name();
      if (!CONDITIONS.has(name)) this.#fail('syntax', `condition on "${name}" is outside the simulated subset`);
      if (name in conditions) this.#fail('syntax', `condition on ${name} given twice`);
      this.#expect('=');
      conditions[name] = this.#value();
      const spaced = this.#spaces() > 0;
      if (spaced && this.#src.startsWith('and ', this.#pos)) {
        this.#pos += 3;
        continue;
      }
      this.#expect(']');
      return conditions;
    }
    this.#fail('syntax', 'too many conditions');
  }

  #name(): string {
    const name = NAME.exec(this.#src.slice(this.#pos))?.[0];
    if (name === undefined) this.#fail('syntax', 'expected an argument name');
    this.#pos += name.length;
    return name;
  }

  #value(): string {
    const c = this.#peek();
    if (c === '"') {
      this.#pos += 1;
      let text = '';
      for (;;) {
        const ch = this.#peek();
        if (ch === undefined) this.#fail('syntax', 'a string is never closed');
        if (ch === '"') break;
        if (ch === '\\' || ch === '$' || ch === '[' || ch === ']' || ch < ' ' || ch === '\u007f') {
          this.#fail('syntax', `${JSON.stringify(ch)} inside a string (escapes and substitutions are outside the simulated subset)`);
        }
        text += ch;
        this.#pos += 1;
      }
      this.#pos += 1;
      return text;
    }
    if (c === '$') this.#fail('syntax', 'variable substitution is outside the simulated subset');
    if (c === '(' || c === '[') this.#fail('syntax', 'expressions and command substitution are outside the simulated subset');
    let word = '';
    while (this.#peek() !== undefined && WORD.test(this.#peek()!)) {
      word += this.#peek();
      this.#pos += 1;
    }
    if (word === '') this.#fail('syntax', 'expected a value');
    return word;
  }
}

/** Parses a whole script. @throws ScriptSyntaxError */
export function parseScript(source: string): Statement[] {
  return new Parser(source).parse();
}

/** What a running script may touch. */
export interface ScriptHost {
  table(family: 4 | 6): AddressTable;
  now(): number;
  /** Accounts for one command; throws SessionClosed past the session limit. */
  charge(): void;
}

/**
 * Runs a parsed script and returns the lines it printed. A failing command
 * inside `:do` runs its `on-error` block; outside one it aborts the script
 * (the CommandFailure propagates). SessionClosed always propagates.
 */
export function runScript(statements: Statement[], host: ScriptHost): string[] {
  const printed: string[] = [];
  const run = (list: Statement[]): void => {
    for (const statement of list) {
      switch (statement.kind) {
        case 'put':
          printed.push(statement.text);
          break;
        case 'do':
          try {
            run(statement.body);
          } catch (error) {
            if (!(error instanceof CommandFailure)) throw error;
            run(statement.onError);
          }
          break;
        case 'command': {
          host.charge();
          const table = host.table(statement.family);
          const now = host.now();
          if (statement.verb === 'add') {
            table.add(statement.fields, now);
          } else {
            for (const entry of table.find(statement.where ?? {}, now)) {
              if (statement.verb === 'remove') table.remove(entry.id);
              else table.update(entry.id, statement.fields, now);
            }
          }
          break;
        }
      }
    }
  };
  run(statements);
  return printed;
}
