import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CliError, EX, exitCodeFor } from '../src/cli/errors.js';
import { parseArgv } from '../src/cli/parse-argv.js';
import { runCli, type CliContext, type CliSpec } from '../src/cli/run-cli.js';
import type { CliArgsDef } from '../src/cli/parse-argv.js';
import { warn } from '../src/cli/warnings.js';

let stdout = '';
let stderr = '';
const saved = { NO_COLOR: process.env.NO_COLOR, WS_DEBUG: process.env.WS_DEBUG };

beforeEach(() => {
  stdout = '';
  stderr = '';
  process.env.NO_COLOR = '1';
  delete process.env.WS_DEBUG;
  vi.spyOn(process.stdout, 'write').mockImplementation((text) => ((stdout += String(text)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((text) => ((stderr += String(text)), true));
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  process.exitCode = undefined;
});

/** Runs a command named `t` and returns what it printed and its exit code. */
async function run<T extends CliArgsDef>(spec: Partial<CliSpec<T>>, argv: string[]) {
  await runCli({ name: 't', description: 'a test command', run: () => {}, ...spec } as CliSpec<T>, argv);
  return { code: process.exitCode ?? 0, stdout, stderr };
}

const fail = (error: unknown) => () => {
  throw error;
};

describe('runCli: the one error path', () => {
  it('prints a CliError as `<command>: <message>` with its code', async () => {
    expect(await run({ run: fail(new CliError(EX.NOINPUT, 'no workspace file here')) }, [])).toEqual({
      code: 66,
      stdout: '',
      stderr: 't: no workspace file here\n',
    });
  });

  it('prints the hint on the next line', async () => {
    const result = await run({ run: fail(new CliError(EX.NOPERM, 'state home /s is writable by others', "run: chmod 700 '/s'")) }, []);
    expect(result.code).toBe(77);
    expect(result.stderr).toBe("t: state home /s is writable by others\nrun: chmod 700 '/s'\n");
  });

  it('keeps only the first line of a message', async () => {
    expect((await run({ run: fail(new CliError(EX.DATAERR, 'first\nsecond')) }, [])).stderr).toBe('t: first\n');
  });

  it('reports an unexpected error as an internal error, exit 70, one line', async () => {
    const result = await run({ run: fail(new TypeError("Cannot read properties of undefined (reading 'x')")) }, []);
    expect(result.code).toBe(EX.SOFTWARE);
    expect(result.stderr).toBe("t: internal error: Cannot read properties of undefined (reading 'x') (run with WS_DEBUG=1 for details)\n");
  });

  it('reports a thrown non-Error as an internal error too', async () => {
    const result = await run({ run: fail('a string') }, []);
    expect(result).toMatchObject({ code: 70, stderr: 't: internal error: a string (run with WS_DEBUG=1 for details)\n' });
  });

  it('adds the stack with WS_DEBUG=1', async () => {
    process.env.WS_DEBUG = '1';
    const result = await run({ run: fail(new Error('boom')) }, []);
    expect(result.code).toBe(70);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toBe('t: internal error: boom');
    expect(lines[1]).toBe('Error: boom');
    expect(lines[2]).toMatch(/^ +at /);
  });

  it('does not map a bare ENOENT to 66: a missing file nobody checked is a bug', async () => {
    const result = await run({ run: () => void readFileSync('/nonexistent/ws-test-file') }, []);
    expect(result.code).toBe(70);
    expect(result.stderr).toMatch(/^t: internal error: ENOENT: no such file or directory, open '\/nonexistent\/ws-test-file' \(run with WS_DEBUG=1 for details\)\n$/);
  });

  it('maps system errors the user can act on, without calling them internal', async () => {
    const system = (code: string) => Object.assign(new Error(`${code}: something, open '/x'`), { code });
    for (const [code, status] of [['EACCES', 77], ['EPERM', 77], ['ENOSPC', 73], ['EROFS', 73], ['EIO', 74]] as const) {
      stderr = '';
      const result = await run({ run: fail(system(code)) }, []);
      expect(result.code).toBe(status);
      expect(result.stderr).toBe(`t: ${code}: something, open '/x'\n`);
    }
    expect(exitCodeFor(system('ENOENT'))).toBe(70);
    expect(exitCodeFor(system('EEXIST'))).toBe(70);
  });

  it("treats citty's own usage errors as usage (64)", async () => {
    const usage = Object.assign(new Error('Unknown command \x1b[36mfoo\x1b[39m'), { name: 'CLIError' });
    expect(await run({ run: fail(usage) }, [])).toMatchObject({ code: 64, stderr: 't: Unknown command foo\n' });
  });

  it("sets the exit code run() returns; nothing printed", async () => {
    expect(await run({ run: () => 3 }, [])).toEqual({ code: 3, stdout: '', stderr: '' });
  });
});

describe('runCli: warnings from deep code', () => {
  it('prints warn() as `<command>: warning: <message>`, once', async () => {
    const result = await run(
      {
        run: () => {
          warn('WS_TEST_KNOB="x" is not a number; using 1');
          warn('WS_TEST_KNOB="x" is not a number; using 1');
        },
      },
      [],
    );
    expect(result.stderr).toBe('t: warning: WS_TEST_KNOB="x" is not a number; using 1\n');
  });

  it('uses the warning prefix of the spec (ws-export: `ws`)', async () => {
    const result = await run({ warningPrefix: 'ws', run: () => warn('WS_TEST_OTHER="" is odd') }, []);
    expect(result.stderr).toBe('ws: warning: WS_TEST_OTHER="" is odd\n');
  });
});

describe('runCli: the command line', () => {
  const args = {
    file: { type: 'positional', required: false, description: 'a file' },
    json: { type: 'boolean', description: 'JSON' },
    'dry-run': { type: 'boolean', description: 'change nothing' },
    key: { type: 'string', alias: 'k', description: 'a key' },
    tag: { type: 'string', multiple: true, description: 'a tag; repeatable' },
  } as const;

  const usage = async (argv: string[], spec: Partial<CliSpec<CliArgsDef>> = {}) => {
    stderr = '';
    const result = await run({ args, ...spec }, argv);
    expect(result.code).toBe(64);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(2); // one line and its newline
    return result.stderr.trimEnd();
  };

  it('rejects an unknown flag, a missing value, a value to a boolean and a surplus positional, each in one line (64)', async () => {
    expect(await usage(['--bogus'])).toBe("t: unknown option '--bogus'");
    expect(await usage(['--bogus=1'])).toBe("t: unknown option '--bogus'");
    expect(await usage(['-x'])).toBe("t: unknown option '-x'");
    expect(await usage(['-json'])).toBe("t: unknown option '-json'");
    expect(await usage(['--no-key'])).toBe("t: unknown option '--no-key'");
    expect(await usage(['--key'])).toBe("t: option '--key' needs a value");
    expect(await usage(['-k'])).toBe("t: option '--key' needs a value");
    expect(await usage(['--key', '--json'])).toBe("t: option '--key' needs a value (for one that starts with '-', write --key=VALUE)");
    expect(await usage(['--json=yes'])).toBe("t: option '--json' takes no value");
    expect(await usage(['a', 'b'])).toBe("t: unexpected argument 'b'");
    expect(await usage(['a'], { args: { json: { type: 'boolean' } } })).toBe("t: unexpected argument 'a'");
  });

  it('names a missing required positional', async () => {
    expect(await usage([], { args: { shell: { type: 'positional', required: true } } })).toBe('t: missing argument SHELL');
  });

  it("rejects '--' unless the command takes words after it", async () => {
    expect(await usage(['--', 'x'])).toBe("t: unexpected '--'");
    let seen: Pick<CliContext<CliArgsDef>, 'rest' | 'dashDash'> | undefined;
    await run({ args, rest: 'CMD', run: ({ rest, dashDash }) => void (seen = { rest, dashDash }) }, ['--json', '--', '--bogus', 'x']);
    expect(seen).toEqual({ rest: ['--bogus', 'x'], dashDash: true });
    await run({ args, rest: 'CMD', run: ({ rest, dashDash }) => void (seen = { rest, dashDash }) }, ['--json', '--']);
    expect(seen).toEqual({ rest: [], dashDash: true });
  });

  it('prints --help on stdout (rendered by citty) and --version, exit 0', async () => {
    const help = await run({ args, help: 'EXIT CODES\n  0 ok' }, ['--bogus', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('USAGE t [OPTIONS] [FILE]');
    expect(help.stdout).toContain('--tag');
    expect(help.stdout).toContain('EXIT CODES');
    stdout = '';
    expect(await run({ args }, ['-V'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^t \d+\.\d+\.\d+/) });
  });
});

describe('parseArgv', () => {
  const defs = {
    file: { type: 'positional', required: false },
    json: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    key: { type: 'string', alias: 'k' },
    tag: { type: 'string', multiple: true },
    null: { type: 'boolean', alias: '0' },
    level: { type: 'string', default: 'info' },
  } as const;

  it('gives every value of a multiple flag, in order; none is []', () => {
    expect(parseArgv(defs, ['--tag', 'a', '--tag=b', '--tag=']).tag).toEqual(['a', 'b', '']);
    expect(parseArgv(defs, []).tag).toEqual([]);
  });

  it('keeps the last value of a repeated single flag, and the default when absent', () => {
    const args = parseArgv(defs, ['--key', 'a', '-k', 'b']);
    expect(args.key).toBe('b');
    expect(args.k).toBe('b');
    expect(args.level).toBe('info');
  });

  it('answers to the key in kebab-case and camelCase, like citty', () => {
    const args = parseArgv(defs, ['--dry-run', 'f.txt']);
    expect(args['dry-run']).toBe(true);
    expect(args.dryRun).toBe(true);
    expect(args.file).toBe('f.txt');
    expect(args._).toEqual(['f.txt']);
    expect(args.json).toBeUndefined();
  });

  it('takes --no-FLAG for a boolean, short groups and a lone - as a positional', () => {
    expect(parseArgv(defs, ['--json', '--no-json']).json).toBe(false);
    const args = parseArgv(defs, ['-0k', 'v', '-']);
    expect([args.null, args.key, args.file]).toEqual([true, 'v', '-']);
  });

  it('takes a value that starts with - in the = form', () => {
    expect(parseArgv(defs, ['--key=-1d']).key).toBe('-1d');
  });

  it('rejects a value outside an enum', () => {
    expect(() => parseArgv({ shell: { type: 'enum', options: ['bash', 'zsh'] } }, ['--shell', 'tcsh'])).toThrow("invalid --shell 'tcsh': use bash, zsh");
  });

  it('throws usage errors as CliError(64)', () => {
    try {
      parseArgv(defs, ['--bogus']);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).code).toBe(EX.USAGE);
    }
  });
});
