// The scenarios of the stress suite. Each takes {dir, profile, seed} and
// returns rows of figures: {id, trials, lost, dup, crash, hang, exec,
// outside, fail, notes}. Every bad figure must be 0.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BIN, allow, alive, badMessages, baseEnv, isCrash, lines, listFiles, mkdirp, pool, processesOf,
  reaperOf, rng, run, sleeper, sleepMs, startTime, stop, stopHome, stopTracked, treeSum, waitFor, writeWorkspace,
} from './lib.mjs';

// A word quoted for bash (and the workspace file, which bash evaluates).
export const sq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

// WS_STRESS_SELFTEST=1 injects one fault per detector (an evaluation run
// twice, a canary created, a file written outside), to show that the suite
// can fail: that run must exit 1 with those figures at 1.
const SELFTEST = process.env.WS_STRESS_SELFTEST === '1';
// Copies of state homes: a FIFO (the watcher's reaper.wake) cannot be copied and belongs to its
// watcher; a copy is a state home with no watcher.
const COPY = { recursive: true, verbatimSymlinks: true, filter: (src) => { const st = fs.lstatSync(src); return !st.isFIFO() && !st.isSocket(); } };

const newRow = (id) => ({ id, trials: 0, lost: 0, dup: 0, crash: 0, hang: 0, exec: 0, outside: 0, fail: 0, notes: [] });

// Counts a command's result into a row: crashes, hangs, messages that are
// not one `ws…: ` line.
function judge(row, r, what) {
  if (r.hung) { row.hang++; row.notes.push(`${what}: hung (killed after its timeout)`); return false; }
  if (isCrash(r)) {
    row.crash++;
    row.notes.push(`${what}: crashed (exit ${r.code ?? r.signal}): ${r.stderr.toString().trim().split('\n').slice(0, 2).join(' | ')}`);
    return false;
  }
  return true;
}

const ctxDirs = (home) => {
  try { return fs.readdirSync(path.join(home, 'contexts')).map((n) => path.join(home, 'contexts', n)); } catch { return []; }
};
const readJson = (f) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return null; } };

// ------------------------------------------------ 1. concurrent entries ----

export async function concurrentEntries({ dir, profile }) {
  const trials = profile === 'short' ? 1 : 2;
  const N = 20;
  const row = newRow(`1.concurrent-entries-${N}`);
  for (let t = 0; t < trials; t++) {
    row.trials++;
    const home = path.join(dir, `home${t}`);
    const proj = path.join(dir, `proj${t}`);
    const builds = path.join(dir, `builds${t}`);
    const unloads = path.join(dir, `unloads${t}`);
    const env = baseEnv(home, { WS_REAPER_IDLE: '1' });
    writeWorkspace(proj, `echo built >>${sq(builds)}\n${SELFTEST ? `echo built >>${sq(builds)}\n` : ''}export FOO=bar\non_unload ${sq(`echo unloaded >>${sq(unloads)}`)}\n`);
    await allow(proj, env);
    const users = Array.from({ length: N }, () => sleeper());
    const results = await Promise.all(users.map((pid) => run([`${BIN}/ws-export`, 'bash', `--pid=${pid}`], { cwd: proj, env, timeout: 60000 })));
    results.forEach((r, i) => {
      if (judge(row, r, `entry ${i}`) && !/^export FOO='bar';$/m.test(r.stdout.toString())) {
        row.fail++;
        row.notes.push(`entry ${i} did not get FOO (exit ${r.code}): ${r.stderr.toString().trim().slice(0, 200)}`);
      }
    });
    const b = lines(builds);
    if (b === 0) { row.lost++; row.notes.push(`trial ${t}: no evaluation`); }
    if (b > 1) { row.dup += b - 1; row.notes.push(`trial ${t}: ${b} evaluations`); }
    await stop(users.map((pid) => ({ pid })), 500);
    // The unload runs once the last user is gone; the reaper then exits
    // (WS_REAPER_IDLE=1): after that nothing can run the hook again.
    await waitFor(() => lines(unloads) > 0, 30000);
    const gone = await waitFor(() => !reaperOf(home), 30000);
    if (!gone) { row.fail++; row.notes.push(`trial ${t}: the reaper did not exit`); }
    const u = lines(unloads);
    if (u === 0) { row.lost++; row.notes.push(`trial ${t}: no unload`); }
    if (u > 1) { row.dup += u - 1; row.notes.push(`trial ${t}: ${u} unloads`); }
    await stopHome(home);
  }
  return [row];
}

// --------------------------------- 2. the reaper SIGKILLed during unloads ----

export async function reaperKills({ dir, profile, seed }) {
  const trials = profile === 'short' ? 4 : 16;
  const H = 4;
  const random = rng(seed);
  const row = newRow(`2.reaper-sigkill-${H}-hooks`);
  // Two defects this scenario found go to a row of their own (known.mjs):
  // a hook lost when the kill falls between its `started` marker and its
  // spawn (logged `exit ?` after 0 ms), and hooks that ran twice.
  const known = newRow('2.reaper-sigkill-start-window');
  row.hooks = 0;
  for (let t = 0; t < trials; t++) {
    row.trials++;
    const home = path.join(dir, `home${t}`);
    const proj = path.join(dir, `proj${t}`);
    const mark = path.join(dir, `mark${t}`);
    const env = baseEnv(home, { WS_REAPER_IDLE: '30', WS_UNLOAD_GRACE: '0' });
    let text = 'export FOO=bar\n';
    for (let k = 1; k <= H; k++) text += `on_unload ${sq(`sleep 0.1; echo ${k} >>${sq(`${mark}.${k}`)}`)}\n`;
    writeWorkspace(proj, text);
    await allow(proj, env);
    const user = sleeper();
    const r = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: proj, env, timeout: 60000 });
    if (!judge(row, r, `trial ${t} entry`)) continue;
    const reaper = await waitFor(() => reaperOf(home), 10000);
    if (!reaper) { row.fail++; row.notes.push(`trial ${t}: no reaper started`); continue; }
    const [ctx] = ctxDirs(home);
    await stop([{ pid: user }], 500);
    // The kill point: a random moment of the unload (its hooks take about
    // H × 0.1 s and more on a busy machine), from before it starts to after
    // it is over. This delay is the fault being injected, not a wait.
    const started = await waitFor(() => fs.existsSync(path.join(ctx, 'unload-run')) || lines(`${mark}.${H}`) > 0, 15000, 10);
    if (!started) { row.fail++; row.notes.push(`trial ${t}: the unload never started`); }
    const killAt = Math.floor(random() * H * 150);
    await sleepMs(killAt);
    try { process.kill(reaper.pid, 'SIGKILL'); } catch { /* already gone */ }
    await waitFor(() => !alive(reaper.pid, reaper.start), 5000);
    // A new sweep resumes what was interrupted (until nothing is left to do).
    for (let i = 0; i < 10; i++) {
      const once = await run([`${BIN}/ws-reaper`, '--once'], { cwd: dir, env, timeout: 60000 });
      judge(row, once, `trial ${t} ws-reaper --once`);
      if (!fs.existsSync(path.join(ctx, 'unload-run')) && readJson(path.join(ctx, 'context.json'))?.state === 'unloaded') break;
    }
    // A hook the killed reaper had spawned may still be running: let it end
    // before the count (it has the context's WS_STATE_HOME).
    await waitFor(() => processesOf(home).length === 0, 5000);
    await stopHome(home);
    let bad = false;
    let log = '';
    try { log = fs.readFileSync(path.join(ctx, 'unload.log'), 'utf8'); } catch { /* none */ }
    known.trials++;
    for (let k = 1; k <= H; k++) {
      row.hooks++;
      const n = lines(`${mark}.${k}`);
      const inWindow = new RegExp(`exit \\? after 0 ms: sleep 0\\.1; echo ${k} `).test(log);
      const r = n === 0 && inWindow ? known : n > 1 ? known : row;
      if (n === 0) { r.lost++; r.notes.push(`trial ${t}: hook ${k} never ran${inWindow ? ' (logged exit ? after 0 ms: killed between its started marker and its spawn)' : ''}`); }
      if (n > 1) { r.dup += n - 1; r.notes.push(`trial ${t}: hook ${k} ran ${n} times`); }
      bad ||= n !== 1;
    }
    if (bad) {
      // The evidence: what the unload log says happened, kept beside the run.
      const keep = path.join(path.dirname(dir), `evidence-2-trial${t}`);
      fs.cpSync(ctx, keep, COPY);
      try { fs.copyFileSync(path.join(home, 'reaper.log'), path.join(keep, 'reaper.log')); } catch { /* none */ }
      known.notes.push(`trial ${t}: killed ${killAt} ms into the unload; unload.log: ${log.split('\n').filter((l) => /^\[/.test(l)).map((l) => l.replace(/^\[[^\]]*\] /, '')).join(' / ').slice(0, 600)}`);
    }
  }
  row.notes.unshift(`${row.hooks} hook runs checked over ${row.trials} kills`);
  return [row, known];
}

// ------------------------------------ 3. corrupt state files × commands ----

const KINDS = ['empty', 'truncated', 'garbage', 'wrong-type', 'dir', 'fifo', 'link-in', 'link-out'];

// corrupt(home, rel, kind, original, outside) — puts KIND where rel belongs.
function corrupt(home, rel, kind, original, outside) {
  const p = path.join(home, rel);
  fs.rmSync(p, { recursive: true, force: true });
  mkdirp(path.dirname(p));
  const text = original ?? Buffer.from('');
  switch (kind) {
    case 'empty': fs.writeFileSync(p, ''); break;
    case 'truncated': fs.writeFileSync(p, text.length > 1 ? text.subarray(0, Math.floor(text.length / 2)) : '{"'); break;
    case 'garbage': fs.writeFileSync(p, Buffer.from([0, 0xff, 0xfe, 0x7b, 0x7b, 0x0a, 0x1b, 0x5b, 0x32, 0x4a, 0x6e, 0x6f, 0x74, 0x0a])); break;
    case 'wrong-type': {
      let v;
      try { v = JSON.parse(text.toString()); } catch { v = undefined; }
      fs.writeFileSync(p, v !== null && typeof v === 'object' && !Array.isArray(v) ? '[1,"two",null]\n' : '{"pid":"x","root":7}\n');
      break;
    }
    case 'dir': mkdirp(p); fs.writeFileSync(path.join(p, 'inside'), 'x\n'); break;
    case 'fifo': {
      const r = spawnSync('mkfifo', [p]);
      if (r.status !== 0) throw new Error(`mkfifo ${p}: ${r.stderr}`);
      break;
    }
    case 'link-in': fs.symlinkSync(rel === 'VERSION' ? path.join(home, 'events.jsonl') : path.join(home, 'VERSION'), p); break;
    case 'link-out': fs.symlinkSync(outside, p); break;
    default: throw new Error(kind);
  }
}

// A copy of the template state home as another state home: the same
// length of path, so every record that names the template's path is
// rewritten byte for byte.
function copyHome(tmpl, to) {
  fs.cpSync(tmpl, to, COPY);
  const a = Buffer.from(tmpl);
  const b = Buffer.from(to);
  for (const rel of listFiles(to)) {
    const f = path.join(to, rel);
    const buf = fs.readFileSync(f);
    if (!buf.includes(a)) continue;
    const parts = [];
    let i = 0;
    for (let j; (j = buf.indexOf(a, i)) !== -1; i = j + a.length) parts.push(buf.subarray(i, j), b);
    parts.push(buf.subarray(i));
    fs.writeFileSync(f, Buffer.concat(parts));
  }
}

export async function corruptState({ dir, profile }) {
  // One row per class of file, so that a class with a known defect can be
  // listed in known.mjs while the others stay enforced.
  const main = newRow('3.corrupt-state');
  const classes = [[/^events\.jsonl$/, newRow('3.corrupt-events.jsonl')],
    [/\/cache\/build\/(?!status$|owner$|request\.json$)/, newRow('3.corrupt-build-scratch')]];
  const rowFor = (rel) => classes.find(([re]) => re.test(rel))?.[1] ?? main;
  const row = main;
  const tmpl = path.join(dir, 'tmpl');
  const proj = path.join(dir, 'proj');
  const marker = path.join(dir, 'unloaded');
  const env0 = baseEnv(tmpl);
  writeWorkspace(proj, `export FOO=bar\nws-service start web -- sleep 600\non_unload ${sq(`echo unloaded >>${sq(marker)}`)}\n`);
  await allow(proj, env0);
  const user = sleeper();
  const load = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: proj, env: env0, timeout: 60000 });
  if (load.code !== 0 || JSON.parse(load.stdout.toString()).set.FOO !== 'bar') throw new Error(`template load: ${load.stderr}`);
  await waitFor(() => reaperOf(tmpl), 10000);
  // The state files, discovered: what a real load with a service and an
  // unload hook leaves (while the service runs, and after it stopped), plus
  // what docs/state-home.md names that this load did not make.
  const seen = new Set(listFiles(tmpl));
  const stopped = await run([`${BIN}/ws-service`, 'stop', 'web'], { cwd: proj, env: env0, timeout: 30000 });
  if (stopped.code !== 0) throw new Error(`template ws-service stop: ${stopped.stderr}`);
  await stopHome(tmpl);
  for (const f of listFiles(tmpl)) seen.add(f);
  const [ctxAbs] = ctxDirs(tmpl);
  const ctx = path.relative(tmpl, ctxAbs);
  for (const extra of ['reaper.pid', 'contexts/notes.txt', `${ctx}/idle-since`, `${ctx}/unload-run/journal.json`,
    `${ctx}/unload-run.lock`, `${ctx}/cache/build/owner`, 'gc.lock', `locks/context-${path.basename(ctx)}`]) seen.add(extra);
  let stamp = 0;
  let files = [...seen].filter((f) => !f.includes('/cache/stamps/') || stamp++ === 0).filter((f) => !/\.tmp\./.test(f)).sort();
  const kinds = profile === 'short' ? ['garbage', 'dir', 'fifo', 'link-out'] : KINDS;
  if (profile === 'short') {
    const pick = ['context.json', `users/${user}`, 'contexts/notes.txt'];
    files = files.filter((f) => pick.some((p) => f === p || f.endsWith(`/${p}`)));
  }
  main.runs = 0;
  const outsideSum = treeSum(proj);
  const tmplSum = treeSum(tmpl);
  // Every file × every kind; each trial runs ws-export json and `others` of
  // the other commands in rotation, so that every command meets every file
  // and every kind (the full cross product would take ~3× longer).
  const others = profile === 'short' ? 2 : 1;
  // Files nobody parses (logs, the build's scratch files, which no reader
  // takes before cache/build/status exists, empty stamps) get the four kinds
  // that differ for them: empty, truncated and wrong-type are garbage there.
  const opaque = (f) => /(^|\/)(log|events\.jsonl|unload\.log|reaper\.log)$|\/cache\/build\/(?!status|owner|request\.json)|\/cache\/stamps\/|needs-unload$|idle-since$/.test(f);
  // The four content kinds (empty, truncated, garbage, wrong-type) all make
  // a parse fail: in the full profile each file gets two of them in
  // rotation (every kind meets every class of file), and every type kind
  // (dir, fifo, link-in, link-out), which each take another code path.
  const content = ['empty', 'truncated', 'garbage', 'wrong-type'];
  const kindsFor = (f, fi) => {
    if (opaque(f)) return kinds.filter((k) => ['garbage', 'dir', 'fifo', 'link-out'].includes(k));
    if (profile === 'short') return kinds;
    return kinds.filter((k) => !content.includes(k) || [content[fi % 4], content[(fi + 1) % 4]].includes(k));
  };
  const trials = files.flatMap((f, fi) => kindsFor(f, fi).map((k) => [f, k]))
    .map(([f, k], slot) => [f, k, slot]);
  await pool(3, trials, async ([rel, kind, slot], i) => {
    const home = path.join(dir, `t${String(i).padStart(3, '0')}`);
    const out = mkdirp(path.join(dir, `o${i}`));
    fs.writeFileSync(path.join(out, 'target'), 'outside, never written\n');
    const before = treeSum(out);
    copyHome(tmpl, home);
    const origPath = path.join(home, rel);
    const original = fs.existsSync(origPath) && fs.lstatSync(origPath).isFile() ? fs.readFileSync(origPath) : null;
    corrupt(home, rel, kind, original, path.join(out, 'target'));
    if (SELFTEST && i === 0) fs.appendFileSync(path.join(out, 'target'), 'selftest\n');
    // ws-export waits for a build up to 4 s, then leaves it in the
    // background: a command still running at 10 s is a hang.
    const env = baseEnv(home, { WS_BUILD_TIMEOUT: '4000' });
    const what = `${rel} as ${kind}`;
    const row = rowFor(rel);
    row.trials++;
    const cmds = [CMDS[0], ...Array.from({ length: others }, (_, j) => CMDS[1 + ((slot * others + j) % (CMDS.length - 1))])];
    for (const cmd of cmds) {
      const r = await run([`${BIN}/${cmd[0]}`, ...cmd.slice(1).map((a) => a.replace('{pid}', String(user)))], { cwd: proj, env, timeout: 10000 });
      judge(row, r, `${what}: ${cmd.join(' ').replace('{pid}', 'USER')}`);
      main.runs++;
    }
    if (treeSum(out) !== before) { row.outside++; row.notes.push(`${what}: wrote outside the state home (${out})`); }
    // The corruption removed (the original put back): the environment comes back.
    fs.rmSync(origPath, { recursive: true, force: true });
    if (original) fs.writeFileSync(origPath, original);
    const r = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: proj, env, timeout: 30000 });
    let foo = null;
    try { foo = JSON.parse(r.stdout.toString()).set.FOO; } catch { /* no document */ }
    if (judge(row, r, `${what}: recovery`) && foo !== 'bar') {
      row.fail++;
      row.notes.push(`${what}: the environment did not come back once the corruption was removed (exit ${r.code}): ${r.stderr.toString().trim().split('\n').slice(-1)[0] ?? ''}`);
    }
    await stopHome(home);
    fs.rmSync(home, { recursive: true, force: true });
  });
  if (treeSum(proj) !== outsideSum) { row.outside++; row.notes.push('the project directory changed'); }
  if (treeSum(tmpl) !== tmplSum) { row.outside++; row.notes.push('the template state home (another home) changed'); }
  // A corrupt users/<pid> or context.json is treated as missing, so that
  // trial's context may legitimately unload (its reaper ran the hook).
  if (lines(marker)) main.notes.push(`${lines(marker)} trial(s) unloaded their context (a corrupt record treated as missing)`);
  await stop([{ pid: user }]);
  row.notes.unshift(`${files.length} state files (${files.filter(opaque).length} unparsed: 4 kinds; the others 2 of the 4 content kinds in rotation, and the 4 type kinds) of ${kinds.length} kinds (${kinds.join(', ')}); ${main.runs} command runs over ${CMDS.length} commands, then a recovery each`);
  return [main, ...classes.map(([, r]) => r)];
}

const CMDS = [
  ['ws-export', 'json', '--pid={pid}'],
  ['ws-export', 'bash', '--pid={pid}'],
  ['ws-prompt'],
  ['ws-list'],
  ['ws-gc', '--dry-run'],
  ['ws-service', 'status'],
  ['ws-on-unload', '--list'],
  ['ws-reaper', '--once'],
];
// ------------------------------------ 4. hostile values and names × shells ----

// How each shell takes ws-export's code and writes each variable named in
// $NAMES, byte for byte, to $OUT/<name>.
const SHELLS = {
  bash: (pre) => ['bash', '--noprofile', '--norc', '-c',
    `eval "$(ws-export bash --pid=$$)"; ${pre} for n in $NAMES; do [ -n "\${!n+x}" ] && printf %s "\${!n}" >"$OUT/$n"; done`],
  zsh: (pre) => ['zsh', '-f', '-c',
    `eval "$(ws-export zsh --pid=$$)"; ${pre} for n in \${=NAMES}; do (( \${+parameters[$n]} )) && printf %s "\${(P)n}" >"$OUT/$n"; done`],
  fish: (pre) => ['fish', '--no-config', '-c',
    `ws-export fish --pid=$fish_pid | source; ${pre} for n in (string split ' ' -- $NAMES); if set -q $n; printf %s "$$n" >"$OUT/$n"; end; end`],
};

// roundTrip(shell, cwd, env, expected) — loads cwd's context in SHELL
// (or JSON) and compares what arrived with `expected` (name → Buffer).
// Returns the names that did not arrive intact, and the result.
/** The bytes of a `ws-export json --bytes` value: U+DC80..U+DCFF stand for the bytes 0x80..0xFF. */
function jsonBytes(value) {
  const parts = [];
  for (const ch of value) {
    const cp = ch.codePointAt(0);
    parts.push(cp >= 0xdc80 && cp <= 0xdcff ? Buffer.from([cp - 0xdc00]) : Buffer.from(ch));
  }
  return Buffer.concat(parts);
}

async function roundTrip(shell, cwd, env, expected, out) {
  fs.rmSync(out, { recursive: true, force: true });
  mkdirp(out);
  const names = [...expected.keys()];
  let r;
  const got = new Map();
  if (shell === 'json') {
    const user = sleeper();
    // --bytes: a byte that is not UTF-8 comes as a lone surrogate U+DC80..U+DCFF (JSON cannot hold the byte).
    r = await run([`${BIN}/ws-export`, 'json', '--bytes', `--pid=${user}`], { cwd, env, timeout: 60000 });
    await stop([{ pid: user }], 200);
    let doc = null;
    try { doc = JSON.parse(r.stdout.toString()); } catch { /* none */ }
    for (const n of names) if (doc && typeof doc.set?.[n] === 'string') got.set(n, jsonBytes(doc.set[n]));
  } else {
    r = await run(SHELLS[shell](''), { cwd, env: { ...env, NAMES: names.join(' '), OUT: out }, timeout: 60000 });
    for (const n of names) { try { got.set(n, fs.readFileSync(path.join(out, n))); } catch { /* not set */ } }
  }
  const bad = names.filter((n) => !got.has(n) || !got.get(n).equals(expected.get(n)));
  return { bad, r, got };
}

const HOSTILE = (canary) => [
  ["it's", 'single quote'],
  ['say "hi" \\"', 'double quotes'],
  [`$(touch ${canary}/cmdsub)`, '$(…)'],
  [`\`touch ${canary}/backtick\``, 'backticks'],
  [`(touch ${canary}/fishsub)`, "fish's (…)"],
  [`x; touch ${canary}/semi; y`, 'semicolons'],
  [`'; touch ${canary}/sqbreak; '`, 'breaking out of single quotes'],
  [`"; touch ${canary}/dqbreak; "`, 'breaking out of double quotes'],
  [`\\'; touch ${canary}/bsq; #`, 'backslash quote'],
  ['line1\nline2', 'a newline'],
  [`a\n$(touch ${canary}/nl)\nb`, 'code after a newline'],
  ['ends with newlines\n\n', 'trailing newlines'],
  ['\\e[31mred\\e[0m \\n \\t \\\\', 'backslash escapes, literal'],
  ['\x1b[31mred\x1b[0m\x07\x1b]0;title\x07', 'raw ESC, BEL, OSC'],
  [Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join(''), 'every C0 control but NUL'],
  ['\x7f\u0085\u009b\u202e', 'DEL, C1, a bidi override'],
  ['$HOME ${PATH} $$ $1 $@ $(( 1+1 ))', 'expansions'],
  ['%s %n %% %b \\0', 'printf directives'],
  ['* ? [a] ~ ~root {a,b} !! !$', 'globs, tilde, braces, history'],
  ['-n', 'an option'],
  ['', 'empty'],
  ['   ', 'spaces'],
  ['a\tb\rc\fd\ve', 'tab, CR, FF, VT'],
  ['héllo — 日本語 🎉 \u00a0', 'non-ASCII'],
  [`$"(touch ${canary}/nu)"`, "nushell's $\"(…)\""],
  [`${"'".repeat(2000)}${'x'.repeat(100000)}\n$(touch ${canary}/long)`, 'long (100 KB)'],
];

export async function hostileValues({ dir, profile }) {
  const home = path.join(dir, 'home');
  const canary = mkdirp(path.join(dir, 'canary'));
  const env = baseEnv(home, { WS_REAPER_IDLE: '1' });
  const rows = [];
  const canaries = () => fs.readdirSync(canary).length;
  const shells = ['bash', 'zsh', 'fish', 'json'];

  // Values: each read byte for byte from a file by the workspace file.
  const vals = mkdirp(path.join(dir, 'vals'));
  const proj = path.join(dir, 'values');
  const expected = new Map();
  let text = SELFTEST ? `touch ${sq(path.join(canary, 'selftest'))}\n` : '';
  HOSTILE(canary).forEach(([v], i) => {
    const n = `V${String(i).padStart(2, '0')}`;
    fs.writeFileSync(path.join(vals, n), v);
    expected.set(n, Buffer.from(v));
    text += `IFS= read -r -d '' ${n} <${sq(path.join(vals, n))} || true; export ${n}\n`;
  });
  writeWorkspace(proj, text);
  await allow(proj, env);
  for (const shell of shells) {
    const row = newRow(`4.values-${shell}`);
    row.trials = expected.size;
    const before = canaries();
    const { bad, r } = await roundTrip(shell, proj, env, expected, path.join(dir, `out-${shell}`));
    judge(row, r, `${shell}: ws-export`);
    row.fail += bad.length;
    for (const n of bad) row.notes.push(`${n} (${HOSTILE(canary)[Number(n.slice(1))][1]}) did not round-trip`);
    row.exec += canaries() - before;
    rows.push(row);
  }

  // Names: project directories whose names are hostile.
  // A name that ever became code would run `cd ..; touch x1` (no slash can
  // be in a name): a new file next to the project directories.
  const NAMES = ['nl\nname', 'bs\\\nnl', '\x1b[31mesc\x1b[0m', '$(cd ..;touch x1)', '`cd ..;touch x2`', `it's "q"`,
    "'; cd ..;touch x3; '", 'sp ace', 'semi;colon', '-dash', '(fish)', '*glob?[x]', 'ünï — 日本', 'tab\there', '%s%n'];
  const nameDirs = NAMES.slice(0, profile === 'short' ? 5 : NAMES.length).map((n) => path.join(dir, 'names', n));
  for (const d of nameDirs) {
    writeWorkspace(d, 'export ROOTVAR=ok\n');
    await allow(d, env);
  }
  const namesBefore = () => fs.readdirSync(path.join(dir, 'names')).length;
  const n0 = namesBefore();
  for (const shell of shells) {
    const row = newRow(`4.dir-names-${shell}`);
    const before = canaries();
    for (const d of nameDirs) {
      row.trials++;
      const exp = new Map([['ROOTVAR', Buffer.from('ok')], ['WS_ROOT', Buffer.from(d)]]);
      const { bad, r } = await roundTrip(shell, d, env, exp, path.join(dir, `nout-${shell}`));
      judge(row, r, `${shell} in ${JSON.stringify(path.basename(d))}`);
      if (bad.length) { row.fail++; row.notes.push(`${JSON.stringify(path.basename(d))}: ${bad.join(', ')} did not arrive`); }
    }
    row.exec += canaries() - before;
    rows.push(row);
  }
  const exec = namesBefore() - n0;
  if (exec) rows[rows.length - 1].exec += exec;

  // A value over Linux's MAX_ARG_STRLEN fails alone, with one message naming it.
  {
    const row = newRow('4.value-over-128k');
    const p = path.join(dir, 'big');
    fs.writeFileSync(path.join(vals, 'BIG'), 'y'.repeat(200 * 1024));
    writeWorkspace(p, `IFS= read -r -d '' BIG <${sq(path.join(vals, 'BIG'))} || true; export BIG\nexport SMALL=ok\n`);
    await allow(p, env);
    for (const shell of shells) {
      row.trials++;
      const { got, r } = await roundTrip(shell, p, env, new Map([['SMALL', Buffer.from('ok')], ['BIG', Buffer.from('')]]), path.join(dir, `bout-${shell}`));
      judge(row, r, `${shell}`);
      const msg = r.stderr.toString();
      if (got.get('SMALL')?.toString() !== 'ok' || got.has('BIG') || !/BIG/.test(msg)) {
        row.fail++;
        row.notes.push(`${shell}: SMALL=${got.get('SMALL') ?? 'unset'}, BIG ${got.has('BIG') ? 'set' : 'unset'}, message naming BIG: ${/BIG/.test(msg)}`);
      }
    }
    rows.push(row);
  }

  // Bytes that are not UTF-8 (issue 18 #12, being fixed).
  {
    const row = newRow('4.non-utf8-value');
    const p = path.join(dir, 'bytes');
    const v = Buffer.from([0x61, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x62]);
    fs.writeFileSync(path.join(vals, 'RAW'), v);
    writeWorkspace(p, `IFS= read -r -d '' RAW <${sq(path.join(vals, 'RAW'))} || true; export RAW\n`);
    await allow(p, env);
    for (const shell of shells) {
      row.trials++;
      const { bad, r } = await roundTrip(shell, p, env, new Map([['RAW', v]]), path.join(dir, `rout-${shell}`));
      judge(row, r, shell);
      if (bad.length) { row.fail++; row.notes.push(`${shell}: the bytes did not round-trip`); }
    }
    rows.push(row);
  }
  await stopHome(home);
  return rows;
}
// ------------------------------------------- 5. permissions and symlinks ----

const isRoot = () => process.getuid?.() === 0;
const sh = (...argv) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });

// A state home with one loaded project (FOO=bar) and its user.
async function loadedHome(dir, name, extraEnv = {}) {
  const home = path.join(dir, `${name}-home`);
  const proj = path.join(dir, `${name}-proj`);
  const env = baseEnv(home, extraEnv);
  writeWorkspace(proj, 'export FOO=bar\n');
  await allow(proj, env);
  const user = sleeper();
  const r = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: proj, env, timeout: 60000 });
  if (r.code !== 0) throw new Error(`${name}: load failed: ${r.stderr}`);
  return { home, proj, env, user, ctx: ctxDirs(home)[0] };
}

const fooOf = (r) => { try { return JSON.parse(r.stdout.toString()).set.FOO ?? null; } catch { return null; } };

// Commands a user runs in a loaded project; each judged, messages one line.
const USER_CMDS = [['ws-export', 'json', '--pid={pid}'], ['ws-prompt'], ['ws-list'], ['ws-gc', '--dry-run'],
  ['ws-reaper', '--once'], ['allocate_port'], ['ws-service', 'status'], ['ws-on-unload', '--list']];
async function everyCommand(row, what, proj, env, cmds = USER_CMDS) {
  const user = sleeper();
  const results = {};
  for (let cmd of cmds) {
    cmd = cmd.map((a) => a.replace('{pid}', String(user)));
    // As a loaded shell's child would (WS_ROOT names the context), except
    // ws-export, which a shell runs before anything is loaded.
    const cmdEnv = cmd[0] === 'ws-export' ? env : { ...env, WS_ROOT: proj };
    const r = await run([`${BIN}/${cmd[0]}`, ...cmd.slice(1)], { cwd: proj, env: cmdEnv, timeout: 15000 });
    results[cmd[0] === 'ws-export' ? 'export' : cmd.join(' ')] = r;
    if (judge(row, r, `${what}: ${cmd.join(' ')}`)) {
      const bad = badMessages(r);
      if (bad.length) { row.fail++; row.notes.push(`${what}: ${cmd.join(' ')}: not a one-line ws message: ${JSON.stringify(bad[0]).slice(0, 160)}`); }
    }
  }
  await stop([{ pid: user }], 200);
  return results;
}

export async function permsAndLinks({ dir, profile }) {
  const rows = [];
  // The short profile runs the commands that write (and ws-list, which reads everything).
  const cmds = profile === 'short' ? USER_CMDS.filter((c) => ['ws-export', 'allocate_port', 'ws-list', 'ws-reaper'].includes(c[0])) : USER_CMDS;

  // A read-only state home (a read-only bind mount: root ignores modes).
  {
    const row = newRow('5.read-only-state-home');
    const rowPort = newRow('5.read-only-allocate_port');
    if (!isRoot()) row.notes.push('skipped: needs root (a read-only bind mount)');
    else {
      const { home, proj, env, user } = await loadedHome(dir, 'ro');
      await stopHome(home);
      const bind = sh('mount', '--bind', home, home);
      const m = bind.status === 0 ? sh('mount', '-o', 'remount,bind,ro', home) : bind;
      // A container without CAP_SYS_ADMIN: say so, count no trial.
      if (m.status !== 0) {
        if (bind.status === 0) sh('umount', home);
        row.notes.push(`skipped: cannot mount: ${m.stderr.trim()}`);
      } else try {
        row.trials++;
        const res = await everyCommand(row, 'read-only', proj, env, cmds.filter((c) => c[0] !== 'allocate_port'));
        rowPort.trials++;
        await everyCommand(rowPort, 'read-only', proj, env, [['allocate_port']]);
        row.notes.push(`read-only home: ws-export json exit ${res.export.code}, FOO ${fooOf(res.export) === 'bar' ? 'kept' : 'not delivered'}: ${res.export.stderr.toString().trim().split('\n')[0] ?? ''}`);
      } finally {
        await stopHome(home);
        sh('umount', home);
      }
      await stop([{ pid: user }]);
    }
    rows.push(row, rowPort);
  }

  // A workspace file that is a symlink to another directory's allowed file
  // (issue 18 #4): it must not run in A unless A was allowed.
  {
    const row = newRow('5.symlinked-workspace-file');
    row.trials++;
    const home = path.join(dir, 'sym-home');
    const env = baseEnv(home);
    const a = mkdirp(path.join(dir, 'sym-A'));
    const b = path.join(dir, 'sym-B');
    writeWorkspace(b, 'export FROM_B=1\n');
    await allow(b, env);
    fs.symlinkSync(path.join(b, '.workspace'), path.join(a, '.workspace'));
    const user = sleeper();
    const r = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: a, env, timeout: 30000 });
    judge(row, r, 'ws-export json in A');
    let set = {};
    try { set = JSON.parse(r.stdout.toString()).set; } catch { /* blocked: no document is fine */ }
    if (set.FROM_B === '1') { row.fail++; row.notes.push('A/.workspace -> B/.workspace ran in A with B\'s approval'); }
    await stopHome(home);
    await stop([{ pid: user }]);
    rows.push(row);
  }

  // A state home that is a symlink: to a safe directory (ours, 0700) it is
  // used (issue 18 #5); to an unsafe one (0777) it is refused with 77.
  for (const [id, mode, want] of [['5.state-home-symlink-safe', 0o700, 0], ['5.state-home-symlink-unsafe', 0o777, 77]]) {
    const row = newRow(id);
    row.trials++;
    const target = path.join(dir, `${id}-target`);
    fs.mkdirSync(target);
    fs.chmodSync(target, mode);
    const link = path.join(dir, `${id}-link`);
    fs.symlinkSync(target, link);
    const proj = path.join(dir, `${id}-proj`);
    const env = baseEnv(link);
    writeWorkspace(proj, 'export FOO=bar\n');
    const al = await run([`${BIN}/ws-allow`, proj], { cwd: proj, env });
    const user = sleeper();
    const r = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: proj, env, timeout: 30000 });
    if (judge(row, r, 'ws-export json')) {
      const ok = want === 0 ? al.code === 0 && r.code === 0 && fooOf(r) === 'bar' : r.code === 77 && al.code === 77;
      if (!ok) {
        row.fail++;
        row.notes.push(`ws-allow exit ${al.code}, ws-export exit ${r.code} (want ${want}): ${(al.stderr.toString() + r.stderr.toString()).trim().split('\n')[0]}`);
      }
    }
    if (want && fs.readdirSync(target).length) { row.outside++; row.notes.push('wrote into the unsafe target'); }
    await stopHome(link);
    await stop([{ pid: user }]);
    rows.push(row);
  }

  // Symlinks planted inside the state home, pointing out of it (issue 18
  // #6): nothing may be written through them.
  for (const [id, rel] of [['5.planted-link-ports', 'ports'], ['5.planted-link-context', '{ctx}'],
    ['5.planted-link-users', '{ctx}/users'], ['5.planted-link-events', 'events.jsonl']]) {
    const row = newRow(id);
    row.trials++;
    const { home, proj, env, user, ctx } = await loadedHome(dir, id);
    await stopHome(home);
    const p = rel === 'ports' ? path.join(home, 'ports') : path.join(home, rel.replace('{ctx}', path.relative(home, ctx)));
    const outside = mkdirp(path.join(dir, `${id}-outside`));
    const target = path.join(outside, path.basename(p));
    if (fs.existsSync(p)) fs.cpSync(p, target, COPY);
    else mkdirp(target);
    fs.rmSync(p, { recursive: true, force: true });
    fs.symlinkSync(target, p);
    const before = treeSum(outside);
    await everyCommand(row, id, proj, env, cmds);
    await stopHome(home);
    if (treeSum(outside) !== before) { row.outside++; row.notes.push(`${rel}: written through the planted link`); }
    await stop([{ pid: user }]);
    rows.push(row);
  }
  return rows;
}
// --------------------------------------------------------- 6. a full disk ----

// JSON records of a state home that must parse (nothing half-written).
function unparseable(home) {
  const bad = [];
  for (const rel of listFiles(home)) {
    if (/\.tmp\./.test(rel)) continue;
    if (!/\.json$|\/users\/\d+$|\/unload\/\d+$|^allow\/|^deny\/|^ports\/[a-z]+-\d+$/.test(rel)) continue;
    const text = fs.readFileSync(path.join(home, rel), 'utf8');
    try { JSON.parse(text); } catch { bad.push(rel); }
  }
  return bad;
}

// fill(mount, leave) — a filler file leaving about `leave` bytes free.
function fill(mount, leave) {
  const filler = path.join(mount, 'filler');
  fs.rmSync(filler, { force: true });
  const st = fs.statfsSync(mount);
  const avail = Number(st.bavail) * Number(st.bsize);
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(65536, 0x61);
  let left = Math.max(0, avail - leave);
  try {
    while (left > 0) left -= fs.writeSync(fd, chunk, 0, Math.min(chunk.length, left));
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

export async function fullDisk({ dir, profile }) {
  const rowGood = newRow('6.full-disk-last-good');
  const rowAfter = newRow('6.full-disk-after-free');
  const rowUnload = newRow('6.full-disk-unload');
  const rows = [rowGood, rowAfter, rowUnload];
  if (!isRoot()) { for (const r of rows) r.notes.push('skipped: needs root (a small tmpfs state home)'); return rows; }
  const mount = mkdirp(path.join(dir, 'disk'));
  const m = sh('mount', '-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mount);
  if (m.status !== 0) { for (const r of rows) r.notes.push(`skipped: cannot mount a tmpfs: ${m.stderr.trim()}`); return rows; }
  const home = path.join(mount, 'ws');
  const proj = path.join(dir, 'proj');
  const marker = path.join(dir, 'unloaded');
  const env = baseEnv(home);
  try {
    writeWorkspace(proj, `export FOO=bar\non_unload ${sq(`echo unloaded >>${sq(marker)}`)}\n`);
    await allow(proj, env);
    const first = sleeper();
    const r0 = await run([`${BIN}/ws-export`, 'json', `--pid=${first}`], { cwd: proj, env, timeout: 60000 });
    if (fooOf(r0) !== 'bar') throw new Error(`full disk: the first load failed: ${r0.stderr}`);
    const levels = profile === 'short' ? [0] : [0, 512, 2048, 4096, 8192, 16384, 65536];
    for (const leave of levels) {
      const filler = fill(mount, leave);
      // The disk is full: a new shell still gets the last good environment,
      // and every command fails in one line if at all.
      rowGood.trials++;
      const res = await everyCommand(rowGood, `${leave} B free`, proj, env);
      if (fooOf(res.export) !== 'bar') {
        rowGood.fail++;
        rowGood.notes.push(`${leave} B free: ws-export json exit ${res.export.code}, no FOO: ${res.export.stderr.toString().trim().split('\n')[0] ?? ''}`);
      }
      // Space freed: nothing half-written, every command works again.
      fs.rmSync(filler, { force: true });
      rowAfter.trials++;
      const bad = unparseable(home);
      if (bad.length) { rowAfter.fail++; rowAfter.notes.push(`${leave} B free: unparseable after freeing: ${bad.join(', ')}`); }
      const after = await everyCommand(rowAfter, `${leave} B free, then freed`, proj, env);
      for (const [cmd, r] of Object.entries(after)) {
        if (r.code !== 0 && !(cmd === 'ws-prompt' && r.code === 1)) {
          rowAfter.fail++;
          rowAfter.notes.push(`${leave} B free, then freed: ${cmd} exit ${r.code}: ${r.stderr.toString().trim().split('\n')[0] ?? ''}`);
        }
      }
      if (fooOf(after.export) !== 'bar') { rowAfter.fail++; rowAfter.notes.push(`${leave} B free, then freed: the environment did not come back`); }
    }
    // An unload on a full disk: the hook runs once, now or once space is
    // back (a new sweep); the reaper's log has no stack trace.
    rowUnload.trials++;
    const reaper = await waitFor(() => reaperOf(home), 10000);
    const filler = fill(mount, 0);
    await stop([{ pid: first }], 500);
    await stopTracked();
    await waitFor(() => lines(marker) > 0 || (reaper && !alive(reaper.pid, reaper.start)), profile === 'short' ? 5000 : 15000);
    fs.rmSync(filler, { force: true });
    // Sweeps until the hook ran (the grace period must pass: bounded).
    await waitFor(async () => {
      if (lines(marker) > 0) return true;
      judge(rowUnload, await run([`${BIN}/ws-reaper`, '--once'], { cwd: dir, env, timeout: 30000 }), 'ws-reaper --once after freeing');
      return lines(marker) > 0;
    }, 20000, 200);
    // Then until no reaper is left, so that a second run would show.
    await waitFor(() => !reaperOf(home), 10000);
    const n = lines(marker);
    if (n === 0) { rowUnload.lost++; rowUnload.notes.push('the unload hook never ran'); }
    if (n > 1) { rowUnload.dup += n - 1; rowUnload.notes.push(`the unload hook ran ${n} times`); }
    let log = '';
    try { log = fs.readFileSync(path.join(home, 'reaper.log'), 'utf8'); } catch { /* none */ }
    if (/^\s+at .+[:(]|internal error/m.test(log)) { rowUnload.crash++; rowUnload.notes.push(`reaper.log: ${log.split('\n').find((l) => /Error|internal/.test(l)) ?? ''}`); }
  } finally {
    await stopHome(home);
    const u = sh('umount', mount);
    if (u.status !== 0) sh('umount', '-l', mount);
  }
  return rows;
}
// -------------------------------------------------- 7. hostile services ----

// Processes whose command line has this tag as an argument (a service may
// drop its environment; its argv is what we gave it).
function tagged(tag) {
  const found = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv;
    try { argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (argv.some((a) => a === tag || a.includes(` ${tag}`) || a.includes(`${tag};`))) {
      const start = startTime(Number(d));
      if (start) found.push({ pid: Number(d), start });
    }
  }
  return found;
}

const cpuTicks = (pid) => {
  try {
    const rest = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch { return null; }
};

export async function services({ dir, seed, profile }) {
  const tag = String(7000 + (seed % 900)); // sleep TAG: ours alone
  const rows = [];
  const home = path.join(dir, 'home');
  const proj = path.join(dir, 'proj');
  const starts = path.join(dir, 'crash-starts');
  const env = baseEnv(home, { WS_REAPER_IDLE: '1' });
  const tagB = String(Number(tag) + 1); // the forker's
  const stubborn = `trap '' TERM; while :; do sleep ${tag}; done`;
  // A child, a setsid grandchild, and a double-forked setsid daemon that
  // ignores SIGTERM (its parent is gone before the stop: not a descendant).
  const forker = `setsid sleep ${tagB} & (setsid bash -c "trap '' TERM; while :; do sleep ${tagB}; done" &) ; sleep ${tagB} & wait`;
  // Ready (alive after 1 s), then it crashes: a crash loop under --restart always.
  const crashy = `date +%s%N >>${sq(starts)}; sleep 1.2; exit 1`;
  writeWorkspace(proj, [
    'export FOO=bar',
    `ws-service start stubborn --stop-timeout 1 -- bash -c ${sq(stubborn)}`,
    `ws-service start forker --stop-timeout 1 -- bash -c ${sq(forker)}`,
    `ws-service start crashy --restart always -- bash -c ${sq(crashy)} || true`,
    '',
  ].join('\n'));
  await allow(proj, env);
  const user = sleeper();
  const rowTerm = newRow('7.service-ignores-sigterm');
  const rowFork = newRow('7.service-setsid-grandchildren');
  const rowLoop = newRow('7.service-crash-loop-always');
  rows.push(rowTerm, rowFork, rowLoop);
  for (const r of rows) r.trials++;
  const load = await run([`${BIN}/ws-export`, 'json', `--pid=${user}`], { cwd: proj, env, timeout: 90000 });
  judge(rowTerm, load, 'load');
  if (fooOf(load) !== 'bar') throw new Error(`services: the load failed: ${load.stderr}`);
  const running = tagged(tag).length + tagged(tagB).length;
  if (running < 4) { rowFork.fail++; rowFork.notes.push(`only ${running} tagged processes ran`); }
  // The crash loop, watched for a window: restarts back off (1 s, 2 s, 4 s…
  // docs/services.md), so a window of 8 s holds a handful, not hundreds.
  const reaper = await waitFor(() => reaperOf(home), 10000);
  const cpu0 = reaper && cpuTicks(reaper.pid);
  const windowMs = profile === 'short' ? 4000 : 10000;
  const tooMany = await waitFor(() => lines(starts) > 6, windowMs, 200); // 1 s, 2 s, 4 s… apart: ≤ 5 in 10 s
  const n = lines(starts);
  const cpu = reaper && cpuTicks(reaper.pid) !== null ? cpuTicks(reaper.pid) - cpu0 : null;
  rowLoop.notes.push(`${n} starts in the first ${windowMs / 1000} s window; reaper CPU ${cpu ?? '?'} ticks in it`);
  if (tooMany || n === 0) { rowLoop.fail++; rowLoop.notes.push(n ? 'no backoff: restarts in a tight loop' : 'never started'); }
  // The unload: the last user leaves; every service and every process they
  // started is stopped, the crash loop ends.
  await stop([{ pid: user }], 500);
  const unloaded = await waitFor(() => readJson(path.join(ctxDirs(home)[0], 'context.json'))?.state === 'unloaded', 30000);
  if (!unloaded) rowTerm.notes.push('the context did not reach "unloaded" in 30 s');
  await waitFor(() => tagged(tag).length + tagged(tagB).length === 0, 10000);
  for (const [t, row] of [[tag, rowTerm], [tagB, rowFork]]) {
    const left = tagged(t);
    for (const e of left) {
      let cmd = '?';
      try { cmd = fs.readFileSync(`/proc/${e.pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 80); } catch { /* gone */ }
      row.fail++;
      row.notes.push(`left running after the unload: ${e.pid}: ${cmd}`);
    }
    await stop(left, 500);
  }
  const atUnload = lines(starts);
  await waitFor(() => !reaperOf(home), 15000);
  if (lines(starts) > atUnload) { rowLoop.fail++; rowLoop.notes.push(`restarted ${lines(starts) - atUnload} times after the unload`); }
  await stopHome(home);
  return rows;
}
