#!/usr/bin/env node
// pnpm bench: SPEC §7's numbers, ws side by side with direnv in one run.
// Installs nothing: it says what is missing. Timing assertions live here,
// never in tests. Usage: node bench/bench.mjs [--quick] [--json PATH]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonPath = args.includes('--json') ? resolve(args[args.indexOf('--json') + 1]) : join(repo, 'bench', 'results.json');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = ['bash', 'direnv', 'strace'].filter((cmd) => !has(cmd));
if (missing.length) console.error(`bench: missing ${missing.join(', ')}: apt-get install ${missing.join(' ')} (figures that need them are skipped)`);
const haveDirenv = has('direnv');

const root = mkdtempSync(join(tmpdir(), 'ws-bench-'));
const home = join(root, 'home');
mkdirSync(home);
const env = {
  PATH: `${repo}/bin:${process.env.PATH}`,
  HOME: home,
  XDG_STATE_HOME: join(root, 'state'),
  XDG_CONFIG_HOME: join(root, 'config'),
  XDG_DATA_HOME: join(root, 'data'),
  XDG_CACHE_HOME: join(root, 'cache'),
  LANG: 'C.UTF-8',
  TERM: 'dumb',
  NO_COLOR: '1',
  WS_LOG_FORMAT: '',
  DIRENV_LOG_FORMAT: '',
  // Long enough that leaving and re-entering in (b) is a re-entry, not an unload.
  WS_UNLOAD_GRACE: '60',
  WS_REAPER_IDLE: '5',
};
const sh = (script, extra = {}) => execFileSync('bash', ['--noprofile', '--norc', '-c', script], { env: { ...env, ...extra }, encoding: 'utf8', cwd: root });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const results = [];
const record = (id, what, ws, direnv, target, unit = 'ms', note = '') => {
  results.push({ id, what, ws, direnv, ratio: ws !== undefined && direnv ? ws / direnv : undefined, target, unit, note });
};

function project(name, content) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.workspace'), content);
  writeFileSync(join(dir, '.envrc'), content);
  sh(`ws-allow ${dir} >/dev/null 2>&1; direnv allow ${dir} >/dev/null 2>&1 || true`);
  return dir;
}

// Runs a bash script with both hooks loaded and prints what it echoes.
const hooks = `eval "$(ws-export hook bash)"; ${haveDirenv ? 'eval "$(direnv hook bash)";' : ''}`;
const clock = 'now() { local t=$EPOCHREALTIME; echo "${t/./}"; }';

// The shells the prompt paths are measured in, each tool's hook alone in its
// own shell (zsh's chpwd and fish's PWD handlers would run both on a cd).
// mark/elapsed read the clock without a fork in bash and zsh; fish has no
// clock variable, so its figures subtract the cost of one `date` (measured
// in the same shell).
const shells = {
  bash: {
    argv: ['bash', '--noprofile', '--norc', '-c'],
    hook: { ws: 'eval "$(ws-export hook bash)"', direnv: 'eval "$(direnv hook bash)"' },
    call: { ws: '_ws_hook', direnv: '_direnv_hook' },
    mark: (v) => `${v}=\${EPOCHREALTIME/./}`,
    elapsed: (a, b) => `echo $((${b} - ${a}))`,
    loop: (n, body) => `for ((i=0;i<${n};i++)); do ${body}; done`,
  },
  zsh: {
    argv: ['zsh', '-f', '-c'],
    hook: { ws: 'zmodload zsh/datetime; eval "$(ws-export hook zsh)"', direnv: 'zmodload zsh/datetime; eval "$(direnv hook zsh)"' },
    call: { ws: '_ws_hook', direnv: '_direnv_hook' },
    mark: (v) => `${v}=$EPOCHREALTIME`,
    elapsed: (a, b) => `printf '%d\\n' $(( (${b} - ${a}) * 1000000 ))`,
    loop: (n, body) => `for ((i=0;i<${n};i++)); do ${body}; done`,
  },
  fish: {
    argv: ['fish', '--no-config', '-c'],
    hook: { ws: 'ws-export hook fish | source', direnv: 'direnv hook fish | source' },
    call: { ws: '_ws_hook', direnv: '__direnv_export_eval' },
    mark: (v) => `set ${v} (date +%s%N)`,
    elapsed: (a, b) => `math "round(($${b} - $${a}) / 1000)"`,
    loop: (n, body) => `for i in (seq ${n}); ${body}; end`,
  },
};
const haveShell = (name) => has(name) && (name !== 'fish' || has('date'));
// Runs BODY (built from the shell's pieces) in SHELL with TOOL's hook only; the numbers it prints, in µs.
const inShell = (name, tool, body, extra = {}) => {
  const s = shells[name];
  const [cmd, ...argv] = s.argv;
  const out = execFileSync(cmd, [...argv, `${s.hook[tool]}; ${body(s, s.call[tool])}; true`], { env: { ...env, ...extra }, encoding: 'utf8', cwd: root });
  return out.trim().split('\n').filter((l) => /^-?\d+(\.\d+)?$/.test(l.trim())).map(Number);
};
// What one pair of marks costs in that shell (0 in bash and zsh: no fork).
const markCost = (name) => (name === 'fish' ? median(inShell('fish', 'ws', (s) => s.loop(15, `${s.mark('a')}; ${s.mark('b')}; ${s.elapsed('a', 'b')}`))) : 0);

// (a) prompt with nothing changed: per prompt, in one shell, many prompts.
const trivial = project('trivial', 'export TRIVIAL=1\n');
{
  const n = quick ? 200 : 1000;
  const run = (hook) =>
    Number(sh(`${hooks} ${clock}; cd ${trivial}; ${hook}; ${hook}; a=$(now); for ((i=0;i<${n};i++)); do ${hook}; done; b=$(now); echo $(( (b-a) ))`).trim()) / n / 1000;
  const ws = median([1, 2, 3].map(() => run('_ws_hook')));
  const direnv = haveDirenv ? median([1, 2, 3].map(() => run('_direnv_hook'))) : undefined;
  let processes = '?';
  if (has('strace')) {
    // Count process creations after a marker (a chdir strace sees) that follows the loading prompt.
    const trace = join(root, 'strace.a');
    spawnSync('strace', ['-f', '-e', 'trace=chdir,execve,clone,clone3,fork,vfork', '-o', trace, 'bash', '--noprofile', '--norc', '-c', `${hooks} cd ${trivial}; _ws_hook; _ws_hook; cd /ws-bench-marker 2>/dev/null; for ((i=0;i<50;i++)); do _ws_hook; done`], { env, cwd: root });
    const lines = readFileSync(trace, 'utf8').split('\n');
    const marker = lines.findIndex((l) => l.includes('/ws-bench-marker'));
    processes = String(lines.slice(marker + 1).filter((l) => /\b(clone3?|fork|vfork)\(/.test(l) && !/= -1/.test(l)).length);
  }
  record('a', 'prompt, nothing changed (per prompt)', ws, direnv, '≤ 1/100 of direnv, 0 processes', 'ms', `bash; processes in 50 prompts: ${processes}`);
  // The same in zsh and fish (their process counts: test-bats/shells.bats).
  for (const name of ['zsh', 'fish']) {
    if (!haveShell(name)) continue;
    const per = (tool) => median([1, 2, 3].map(() => inShell(name, tool, (s, h) => `cd ${trivial}; ${h}; ${h}; ${s.mark('a')}; ${s.loop(n, h)}; ${s.mark('b')}; ${s.elapsed('a', 'b')}`)[0] / n / 1000));
    record(`a-${name}`, 'prompt, nothing changed (per prompt)', per('ws'), haveDirenv ? per('direnv') : undefined, '≤ 1/100 of direnv', 'ms', name);
  }
}

// (b) re-enter an unchanged, cached context: cd in + prompt.
// The clock is read in the shell itself, as in b2 and b3 (the fork of a
// $(now) after the hook was inside the measured time: 0.4-2.8 ms here, both tools).
{
  const n = quick ? 20 : 60;
  const run = (hook) =>
    sh(`${hooks} ${clock}; cd ${trivial}; ${hook}; cd ..; ${hook}; cd ${trivial}; ${hook}; cd ..; ${hook}; for ((i=0;i<${n};i++)); do cd ${trivial}; a=\${EPOCHREALTIME/./}; ${hook}; b=\${EPOCHREALTIME/./}; echo $((b-a)); cd ..; ${hook}; done`)
      .trim()
      .split('\n')
      .map((x) => Number(x) / 1000);
  const ws = median(run('_ws_hook'));
  const direnv = haveDirenv ? median(run('_direnv_hook')) : undefined;
  record('b', 're-enter unchanged cached context (cd + prompt)', ws, direnv, '≤ 1/20 of direnv', 'ms', 'bash');
  // zsh and fish: the cd itself runs the hooks (chpwd, --on-variable PWD), so the clock starts before it.
  for (const name of ['zsh', 'fish']) {
    if (!haveShell(name)) continue;
    const cost = markCost(name);
    const per = (tool) =>
      median(
        inShell(name, tool, (s, h) => `cd ${trivial}; ${h}; cd ..; ${h}; cd ${trivial}; ${h}; cd ..; ${h}; ${s.loop(n, `${s.mark('a')}; cd ${trivial}; ${h}; ${s.mark('b')}; ${s.elapsed('a', 'b')}; cd ..; ${h}`)}`).map(
          (us) => (us - cost) / 1000,
        ),
      );
    record(`b-${name}`, 're-enter unchanged cached context (cd + prompt)', per('ws'), haveDirenv ? per('direnv') : undefined, '≤ 1/20 of direnv', 'ms', name);
  }
}

// Processes a bash script starts after a marker (a chdir strace sees): SCRIPT, then the marker, then AFTER.
const processesAfter = (label, script, after) => {
  if (!has('strace')) return '?';
  const trace = join(root, `strace.${label}`);
  spawnSync('strace', ['-f', '-e', 'trace=chdir,execve,clone,clone3,fork,vfork', '-o', trace, 'bash', '--noprofile', '--norc', '-c', `${hooks} ${script}; cd /ws-bench-marker 2>/dev/null; ${after}`], { env, cwd: root });
  const lines = readFileSync(trace, 'utf8').split('\n');
  const marker = lines.findIndex((l) => l.includes('/ws-bench-marker'));
  return String(lines.slice(marker + 1).filter((l) => /\b(clone3?|fork|vfork)\(/.test(l) && !/= -1/.test(l)).length);
};

// (b2) leave a loaded context for no context: cd out + prompt (ws: the revert from the shell's own result).
// The clock is read in the shell itself (no $(now) subshell, whose fork would be most of ws's time here).
{
  const n = quick ? 20 : 60;
  const run = (hook) =>
    sh(`${hooks} ${clock}; cd ${trivial}; ${hook}; cd ..; ${hook}; cd ${trivial}; ${hook}; for ((i=0;i<${n};i++)); do cd ..; a=\${EPOCHREALTIME/./}; ${hook}; b=\${EPOCHREALTIME/./}; echo $((b-a)); cd ${trivial}; ${hook}; done`)
      .trim()
      .split('\n')
      .map((x) => Number(x) / 1000);
  const ws = median(run('_ws_hook'));
  const direnv = haveDirenv ? median(run('_direnv_hook')) : undefined;
  // 20 leaves, each followed by a (cached) re-entry.
  const processes = processesAfter('b2', `cd ${trivial}; _ws_hook; cd ..; _ws_hook; cd ${trivial}; _ws_hook`, `for ((i=0;i<20;i++)); do cd ..; _ws_hook; cd ${trivial}; _ws_hook; done`);
  record('b2', 'leave a context (cd out + prompt)', ws, direnv, '≤ 1/20 of direnv, 0 processes', 'ms', `processes in 20 leaves + 20 cached re-entries: ${processes}`);
  // zsh and fish, as in (b): the clock starts before the cd, which runs the hooks (their process counts: cache.bats).
  for (const name of ['zsh', 'fish']) {
    if (!haveShell(name)) continue;
    const cost = markCost(name);
    const per = (tool) =>
      median(
        inShell(name, tool, (s, h) => `cd ${trivial}; ${h}; cd ..; ${h}; cd ${trivial}; ${h}; ${s.loop(n, `${s.mark('a')}; cd ..; ${h}; ${s.mark('b')}; ${s.elapsed('a', 'b')}; cd ${trivial}; ${h}`)}`).map(
          (us) => (us - cost) / 1000,
        ),
      );
    record(`b2-${name}`, 'leave a context (cd out + prompt)', per('ws'), haveDirenv ? per('direnv') : undefined, '≤ 1/20 of direnv, 0 processes', 'ms', name);
  }
}

// (b3) switch between two cached contexts: cd from one to the other + prompt.
{
  const n = quick ? 20 : 60;
  const other = project('trivial2', 'export TRIVIAL2=1\n');
  const warm = (hook) => `cd ${trivial}; ${hook}; cd ${other}; ${hook}; cd ${trivial}; ${hook}; cd ${other}; ${hook}`;
  const run = (hook) =>
    sh(`${hooks} ${clock}; ${warm(hook)}; for ((i=0;i<${n};i++)); do cd ${trivial}; a=\${EPOCHREALTIME/./}; ${hook}; b=\${EPOCHREALTIME/./}; echo $((b-a)); cd ${other}; a=\${EPOCHREALTIME/./}; ${hook}; b=\${EPOCHREALTIME/./}; echo $((b-a)); done`)
      .trim()
      .split('\n')
      .map((x) => Number(x) / 1000);
  const ws = median(run('_ws_hook'));
  const direnv = haveDirenv ? median(run('_direnv_hook')) : undefined;
  const processes = processesAfter('b3', warm('_ws_hook'), `for ((i=0;i<10;i++)); do cd ${trivial}; _ws_hook; cd ${other}; _ws_hook; done`);
  record('b3', 'switch between two cached contexts (cd + prompt)', ws, direnv, '≤ 1/20 of direnv, 0 processes', 'ms', `processes in 20 switches: ${processes}`);
}

// (c) first enter of a trivial workspace file (nothing cached).
{
  const n = quick ? 10 : 30;
  const ws = [];
  const direnv = [];
  const floor = [];
  for (let i = 0; i < n; i++) {
    // node's own start, timed the same way: the floor of every path that waits for node.
    const tn = process.hrtime.bigint();
    sh('node -e 0');
    floor.push(Number(process.hrtime.bigint() - tn) / 1e6);
    // A state home never used before (trusted by WS_TRUSTED_DIRS, like a fresh allow).
    const fresh = { WS_STATE_HOME: join(root, `c-state-${i}`), WS_TRUSTED_DIRS: trivial };
    const t0 = process.hrtime.bigint();
    sh(`cd ${trivial}; ws-export json >/dev/null`, fresh);
    ws.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (haveDirenv) {
      const t1 = process.hrtime.bigint();
      sh(`cd ${trivial}; direnv export json >/dev/null`);
      direnv.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
  }
  record('n0', 'node floor: `node -e 0` (vs direnv export, trivial)', median(floor), haveDirenv ? median(direnv) : undefined, 'floor of every path that waits for node');
  record('cj', 'first enter of a trivial file: `ws-export json` (node), fresh state home', median(ws), haveDirenv ? median(direnv) : undefined, 'the node path');
}

// (c) first enter of a trivial workspace file at a bash (and zsh) prompt,
// nothing cached: the shell has seen one export (outside any project), then
// cd + one prompt. ws takes the cold path (the default; docs/hook.md: no
// node waited for); `cn` is the same prompt through node (WS_COLD_PATH=0).
// Each ws run has a fresh state home; the detached adopt is waited for, untimed.
{
  const n = quick ? 10 : 30;
  const firstEnter = (name, tool, extra = {}) => {
    const wait = tool === 'ws' ? 'for ((j=0;j<100;j++)); do [[ -z ${_ws_adopt-} ]] && break; _ws_hook; sleep 0.05; done' : ':';
    // From before the cd: zsh's hooks run on chpwd too.
    return inShell(name, tool, (s, h) => `cd ${root}; ${h}; ${s.mark('a')}; cd ${trivial}; ${h}; ${s.mark('b')}; ${s.elapsed('a', 'b')}; ${wait}`, extra).map((us) => us / 1000);
  };
  for (const name of ['bash', 'zsh']) {
    if (!haveShell(name)) continue;
    const ws = [];
    const node = [];
    const direnv = [];
    for (let i = 0; i < (name === 'bash' ? n : Math.ceil(n / 3)); i++) {
      for (const [list, extra] of [
        [ws, { WS_COLD_PATH: '1' }],
        [node, { WS_COLD_PATH: '0' }],
      ]) {
        const fresh = { WS_STATE_HOME: join(root, `cc-state-${name}-${list === ws ? 'w' : 'n'}${i}`), ...extra };
        sh(`ws-allow ${trivial} >/dev/null 2>&1`, fresh);
        list.push(...firstEnter(name, 'ws', fresh));
      }
      if (haveDirenv) direnv.push(...firstEnter(name, 'direnv'));
    }
    const suffix = name === 'bash' ? '' : `-${name}`;
    record(`c${suffix}`, `first enter of a trivial workspace file (${name} prompt, the cold path)`, median(ws), haveDirenv ? median(direnv) : undefined, '≤ 2 × direnv', 'ms', name);
    record(`cn${suffix}`, 'the same prompt through node (WS_COLD_PATH=0)', median(node), haveDirenv ? median(direnv) : undefined, 'fish, and what the cold path hands on', 'ms', name);
  }
}

// Re-evaluation after a watched file changed, in an interactive-like bash
// with the tool's hook: touch the watched files to a new whole second (direnv
// compares mtimes in seconds), then one prompt. ws waits for its build
// (WS_BUILD_TIMEOUT large: never the background answer).
const reload = (tool, dir, watched, n) =>
  median(
    inShell('bash', tool, (s, h) => `cd ${dir}; ${h}; ${h}; t=1700000000; ${s.loop(n, `t=$((t + 1)); touch -d @$t ${watched}; ${s.mark('a')}; ${h}; ${s.mark('b')}; ${s.elapsed('a', 'b')}`)}`, { WS_BUILD_TIMEOUT: '60000' }).map((us) => us / 1000),
  );
{
  const n = quick ? 10 : 30;
  const watched = `${trivial}/.workspace ${trivial}/.envrc`;
  record('r1', 'reload after a watched change, trivial file (prompt)', reload('ws', trivial, watched, n), haveDirenv ? reload('direnv', trivial, watched, n) : undefined, '≤ 2 × direnv', 'ms', 'bash');
}

// (c2) export of a typical direnv .envrc (the corpus's patterns: dotenv,
// PATH_add, layout node, a private file, watches), nothing cached, both tools.
{
  const n = quick ? 10 : 30;
  const dir = join(root, 'typical');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, '.env'), 'API_HOST=localhost\nAPI_PORT=3000\nexport SECRET=x\n');
  writeFileSync(join(dir, '.envrc.private'), 'export TOKEN=abc\n');
  writeFileSync(
    join(dir, '.envrc'),
    'dotenv\nPATH_add bin scripts\nlayout node\nsource_env_if_exists .envrc.private\nwatch_file package.json\n' +
      'export APP_ENV=development DATABASE_URL=postgres://localhost/app\n[ -d /opt/homebrew ] && load_prefix /opt/homebrew\n',
  );
  sh(`ws-allow ${dir} >/dev/null 2>&1; direnv allow ${dir} >/dev/null 2>&1 || true`);
  const ws = [];
  const direnv = [];
  for (let i = 0; i < n; i++) {
    const fresh = { WS_STATE_HOME: join(root, `c2-state-${i}`), WS_TRUSTED_DIRS: dir, WS_BUILD_TIMEOUT: '60000' };
    const t0 = process.hrtime.bigint();
    sh(`cd ${dir}; ws-export json >/dev/null`, fresh);
    ws.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (haveDirenv) {
      const t1 = process.hrtime.bigint();
      sh(`cd ${dir}; direnv export json >/dev/null`);
      direnv.push(Number(process.hrtime.bigint() - t1) / 1e6);
    }
  }
  record('c2', 'first enter of a typical .envrc (dotenv, PATH_add, exports)', median(ws), haveDirenv ? median(direnv) : undefined, '≤ 1.5 × direnv');
  record('r2', 'reload of the typical .envrc after .env changed (prompt)', reload('ws', dir, `${dir}/.env`, n), haveDirenv ? reload('direnv', dir, `${dir}/.env`, n) : undefined, '≤ 1.5 × direnv', 'ms', 'bash');
}

// (d) prompt while a 5 s build runs.
{
  const slow = project('slow', `sleep ${quick ? 2 : 5}\nexport SLOW=1\n`);
  // WS_BUILD_WAIT=0: a first entry would otherwise wait up to 2 s, by design (docs/builds.md); this row is about the prompts after it.
  const out = sh(`export WS_BUILD_WAIT=0; ${hooks} ${clock}; cd ${slow}; a=$(now); _ws_hook 2>/dev/null; b=$(now); echo first $((b-a)); for ((i=0;i<20;i++)); do a=$(now); _ws_hook 2>/dev/null; b=$(now); echo p $((b-a)); done; echo state $_ws_state`);
  const first = Number(/first (\d+)/.exec(out)[1]) / 1000;
  const prompts = [...out.matchAll(/p (\d+)/g)].map((m) => Number(m[1]) / 1000);
  let direnv;
  if (haveDirenv) {
    const t = process.hrtime.bigint();
    sh(`cd ${slow}; direnv export json >/dev/null`);
    direnv = Number(process.hrtime.bigint() - t) / 1e6;
  }
  record('d', 'prompt while a 5 s build runs', median(prompts), direnv, '≤ 150 ms, env from cache', 'ms', `the prompt that starts the build: ${first.toFixed(1)} ms`);
}

// (e) last user exits -> first unload hook starts (grace 0, so this is the latency after the grace).
{
  const dir = project('unload', `on_unload -- bash -c 'echo \${EPOCHREALTIME/./} > "$WS_ROOT/hook-started"'\n`);
  // Its own state home, so its reaper runs with grace 0 (the others' has 60 s).
  const eEnv = { WS_STATE_HOME: join(root, 'e-state'), WS_TRUSTED_DIRS: dir, WS_UNLOAD_GRACE: '0', WS_BUILD_TIMEOUT: '10000' };
  const measure = (signal) => {
    const samples = [];
    for (let i = 0; i < (quick ? 3 : 5); i++) {
      rmSync(join(dir, 'hook-started'), { force: true });
      const user = spawn('sleep', ['600'], { stdio: 'ignore' });
      sh(`cd ${dir}; ws-export json --pid ${user.pid} >/dev/null 2>&1`, eEnv);
      const killedAt = Date.now() * 1000;
      user.kill(signal);
      const deadline = Date.now() + 10_000;
      while (!existsSync(join(dir, 'hook-started')) && Date.now() < deadline) spawnSync('sleep', ['0.02']);
      const started = Number(readFileSync(join(dir, 'hook-started'), 'utf8').trim());
      samples.push((started - killedAt) / 1000);
    }
    return median(samples);
  };
  record('e1', 'last user exits (SIGTERM) -> first unload hook', measure('SIGTERM'), undefined, '≤ 1 s after the grace');
  record('e2', 'last user SIGKILLed -> first unload hook', measure('SIGKILL'), undefined, '≤ 2 s after SIGKILL');
}

// (f) reaper idle with 100 contexts / 300 users.
{
  const stateHome = join(root, 'f-state');
  const sleepers = Array.from({ length: 300 }, () => spawn('sleep', ['600'], { stdio: 'ignore' }));
  const startOf = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
  for (let c = 0; c < 100; c++) {
    const ctx = join(stateHome, 'contexts', `ctx${c}-000000000000`);
    mkdirSync(join(ctx, 'users'), { recursive: true, mode: 0o700 });
    writeFileSync(join(ctx, 'context.json'), JSON.stringify({ root: `/nonexistent/ctx${c}`, name: `ctx${c}`, file: '', created: '', lastUsed: '', state: 'ready', env: 'default' }));
    for (let u = 0; u < 3; u++) {
      const pid = sleepers[c * 3 + u].pid;
      writeFileSync(join(ctx, 'users', String(pid)), JSON.stringify({ pid, start: startOf(pid), joined: '' }));
    }
  }
  spawnSync('chmod', ['-R', 'go-w', stateHome]);
  // Started as every command starts it: what stays resident is the watcher
  // (bash), which runs the Node reaper only while there is work.
  const fEnv = { ...env, WS_STATE_HOME: stateHome };
  execFileSync(process.execPath, [join(repo, 'packages/ws-reaper/bin/ws-reaper.mjs')], { env: fEnv, stdio: 'ignore' });
  const stat = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  let watcher;
  for (let i = 0; i < 200 && !watcher; i++) {
    try {
      watcher = Number(readFileSync(join(stateHome, 'reaper.pid'), 'utf8').split(' ')[0]) || undefined;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Every process of the reaper: the watcher and its children (a worker while one runs).
  const resident = () => [watcher, ...readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== watcher).filter((p) => {
    try {
      return Number(stat(p)[1]) === watcher;
    } catch {
      return false;
    }
  }).map(Number)];
  // Its first sweep (a worker, which exits when it has nothing to do) is not
  // idle: wait until the watcher has reaped it (its children's CPU time counts).
  const reaped = () => stat(watcher).slice(13, 15).some((t) => Number(t) > 0);
  for (let i = 0; i < 200 && (resident().length > 1 || !reaped()); i++) await new Promise((r) => setTimeout(r, 100));
  // utime + stime of each, plus cutime + cstime of the watcher: the workers it started and reaped.
  const ticks = () => resident().reduce((sum, pid, i) => {
    try {
      return sum + stat(pid).slice(11, i === 0 ? 15 : 13).reduce((a, b) => a + Number(b), 0);
    } catch {
      return sum;
    }
  }, 0);
  // Clock ticks are 10 ms: 20 s resolve 0.05 %.
  const seconds = quick ? 20 : 60;
  const t0 = ticks();
  let rss = 0;
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = resident().reduce((sum, pid) => {
      try {
        return sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
      } catch {
        return sum;
      }
    }, 0);
    rss = Math.max(rss, now);
  }
  const cpu = ((ticks() - t0) / 100 / seconds) * 100;
  const processes = resident().length;
  for (const pid of resident()) process.kill(pid, 'SIGKILL');
  for (const s of sleepers) s.kill('SIGKILL');
  record('f1', 'reaper CPU (all its processes), 100 contexts / 300 users, idle', cpu, undefined, '≤ 0.2 % of a core', '%', `${seconds} s`);
  record('f2', 'reaper RSS (all its processes), 100 contexts / 300 users, idle', rss, undefined, '≤ 15 MB', 'MB', `the largest sum seen; ${processes} process(es) at the end`);
}

// (g) 200 concurrent allocate_port: duplicates.
if (existsSync(join(repo, 'bin', 'allocate_port'))) {
  const out = sh(`for i in $(seq 200); do WS_ROOT=${root}/ctx$((i % 7)) allocate_port --key k$i & done; wait`);
  const ports = out.trim().split('\n');
  const dupes = ports.length - new Set(ports).size;
  record('g', '200 concurrent allocate_port: duplicates', dupes, undefined, '0 duplicates', '', `${ports.length} ports`);
}

// (h) Figures the tests used to time (they now check only the behaviour).
{
  const hHome = join(root, 'h-state');
  const svc = project('svc', '\n');
  const withSvc = project('withsvc', "service web --ready-cmd true -- sleep 600\n");
  const reap = project('reap', 'export REAP=1\n');
  const hEnv = { WS_STATE_HOME: hHome, WS_TRUSTED_DIRS: root, WS_UNLOAD_GRACE: '0', WS_BUILD_TIMEOUT: '10000' };
  const n = quick ? 3 : 5;
  const ms = (fn) => {
    const t = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  // Some of these fail on purpose (a crashing service): only the time counts.
  const run = (script, extra = {}) => {
    try {
      return sh(script, { ...hEnv, ...extra });
    } catch {
      return '';
    }
  };
  const samples = (fn) => median(Array.from({ length: n }, (_, i) => fn(i)));
  const waitFor = (cond) => {
    const deadline = Date.now() + 10_000;
    while (!cond() && Date.now() < deadline) spawnSync('sleep', ['0.01']);
  };
  const ctxDir = (name) => join(hHome, 'contexts', readdirSync(join(hHome, 'contexts')).find((d) => d.startsWith(`${name}-`)));
  record('h0', 'ws-reaper: start one in the background, return', samples((i) => {
    const home = join(root, `h-reaper-${i}`);
    let out = '';
    const t = ms(() => (out = run('ws-reaper 2>&1', { WS_STATE_HOME: home })));
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    if (pid) process.kill(pid, 'SIGTERM');
    return t;
  }), undefined, 'returns at once');
  // A second user keeps the context loaded while the first one dies, again and again.
  const keeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  run(`cd ${reap}; ws-export json --pid ${keeper.pid} >/dev/null 2>&1`);
  // Two figures per sample: when the watcher noticed (it forks the worker:
  // a child appears) and when the record is gone (that worker, once Node has
  // started, removed it).
  const watcherChildren = () => {
    try {
      const pid = readFileSync(join(hHome, 'reaper.pid'), 'utf8').split(' ')[0];
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const workerPid = () => {
    try {
      const pid = readFileSync(join(hHome, 'reaper.worker'), 'utf8').split(' ')[0];
      return existsSync(`/proc/${pid}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const noticed = [];
  const removed = [];
  for (let i = 0; i < n + 2; i++) {
    const user = spawn('sleep', ['600'], { stdio: 'ignore' });
    run(`cd ${reap}; ws-export json --pid ${user.pid} >/dev/null 2>&1`);
    const rec = join(ctxDir('reap'), 'users', String(user.pid));
    // From the idle watcher alone: the worker of the previous sample has exited.
    waitFor(() => workerPid() === undefined && watcherChildren() === '');
    // At a random moment of the watcher's 0.8 s tick, as deaths come.
    await new Promise((r) => setTimeout(r, Math.random() * 800));
    const t0 = Date.now();
    user.kill('SIGKILL');
    // Polled with the event loop running, so that Node reaps the killed
    // child: a zombie's PID still exists (kill -0 succeeds), as a shell's
    // does until its terminal reaps it.
    let seen;
    for (const deadline = Date.now() + 10_000; existsSync(rec) && Date.now() < deadline; ) {
      if (seen === undefined && watcherChildren() !== '') seen = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
    noticed.push(seen ?? Date.now() - t0);
    removed.push(Date.now() - t0);
  }
  record('h1', 'reaper: a dead user noticed by the idle watcher (it starts a worker)', median(noticed), undefined, '≤ 1 s (SPEC §4 ws-reaper)');
  record('h1b', 'reaper: … and its record removed (after a Node start)', median(removed), undefined, '≤ 1 s + a Node start', 'ms', `node -e 0 here: ${ms(() => spawnSync(process.execPath, ['-e', '0'])).toFixed(0)} ms`);
  keeper.kill('SIGKILL');
  record('h2', 'ws-service start: the command exits at once', samples(() => ms(() => run(`cd ${svc}; WS_ROOT=${svc} ws-service start crash -- bash -c 'exit 3' 2>/dev/null`))), undefined, 'fails at once');
  record('h3', 'ws-service start: never ready, --ready-timeout 1', samples(() => ms(() => run(`cd ${svc}; WS_ROOT=${svc} ws-service start deaf --ready-cmd false --ready-timeout 1 -- sleep 60 2>/dev/null`))), undefined, '≈ 1 s, then stopped');
  record('h4', 'ws-service stop: ignores SIGTERM, --stop-timeout 1', samples(() => {
    run(`cd ${svc}; WS_ROOT=${svc} ws-service start stubborn --stop-timeout 1 -- bash -c 'trap "" TERM; while :; do sleep 0.1; done' 2>/dev/null`);
    return ms(() => run(`cd ${svc}; WS_ROOT=${svc} ws-service stop stubborn 2>/dev/null`));
  }), undefined, '≈ 1 s, then SIGKILL');
  // Enter a workspace file that starts a service; its only user dies: the service stops (grace 0).
  const enter = [];
  const stop = [];
  for (let i = 0; i < n; i++) {
    const user = spawn('sleep', ['600'], { stdio: 'ignore' });
    enter.push(ms(() => run(`cd ${withSvc}; ws-export json --pid ${user.pid} >/dev/null 2>&1`)));
    const pidFile = join(ctxDir('withsvc'), 'services', 'web', 'pid');
    const t0 = Date.now();
    user.kill('SIGKILL');
    waitFor(() => !existsSync(pidFile));
    stop.push(Date.now() - t0);
  }
  record('h5', 'first enter of a file that starts a service', median(enter), undefined, 'not held by the service');
  record('h6', 'last user SIGKILLed -> its services stopped', median(stop), undefined, 'before the unload hooks, ≤ 2 s');
  run(`cd ${svc}; WS_ROOT=${svc} ws-service stop --all >/dev/null 2>&1`);
}

// The table.
const fmt = (v, unit) => (v === undefined ? '—' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)}${unit === 'ms' ? ' ms' : unit === '%' ? ' %' : unit === 'MB' ? ' MB' : ''}`);
const rows = results.map((r) => [r.id, r.what, fmt(r.ws, r.unit), fmt(r.direnv, r.unit), r.ratio === undefined ? '—' : r.ratio < 0.5 ? `1/${Math.round(1 / r.ratio)}` : `${r.ratio.toFixed(2)}×`, r.target, r.note]);
const head = ['', 'what (median)', 'ws', 'direnv', 'ws/direnv', 'target', 'note'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
writeFileSync(jsonPath, `${JSON.stringify({ date: new Date().toISOString(), quick, results }, null, 2)}\n`);
console.log(`\nfigures written to ${jsonPath}`);
// Stop what the run started: the reapers of its state homes, by the PID they recorded.
for (const home of [join(root, 'state', 'ws'), join(root, 'e-state'), join(root, 'f-state'), join(root, 'h-state')]) {
  try {
    process.kill(Number(readFileSync(join(home, 'reaper.pid'), 'utf8').split(' ')[0]), 'SIGTERM');
  } catch {
    /* none */
  }
}
rmSync(root, { recursive: true, force: true });
