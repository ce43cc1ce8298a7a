// The scenarios of the stress suite. Each takes {dir, profile, seed} and
// returns rows of figures: {id, trials, lost, dup, crash, hang, exec,
// outside, fail, notes}. Every bad figure must be 0.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BIN, allow, alive, badMessages, baseEnv, isCrash, lines, listFiles, mkdirp, pool, processesOf,
  reaperOf, rng, run, sleeper, sleepMs, stop, stopHome, stopTracked, track, treeSum, waitFor, writeWorkspace,
} from './lib.mjs';

// A word quoted for bash (and the workspace file, which bash evaluates).
export const sq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

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
  const trials = profile === 'short' ? 1 : 3;
  const N = 20;
  const row = newRow(`1.concurrent-entries-${N}`);
  for (let t = 0; t < trials; t++) {
    row.trials++;
    const home = path.join(dir, `home${t}`);
    const proj = path.join(dir, `proj${t}`);
    const builds = path.join(dir, `builds${t}`);
    const unloads = path.join(dir, `unloads${t}`);
    const env = baseEnv(home, { WS_REAPER_IDLE: '1' });
    writeWorkspace(proj, `echo built >>${sq(builds)}\nexport FOO=bar\non_unload ${sq(`echo unloaded >>${sq(unloads)}`)}\n`);
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
  const trials = profile === 'short' ? 6 : 30;
  const H = 4;
  const random = rng(seed);
  const row = newRow(`2.reaper-sigkill-${H}-hooks`);
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
    await sleepMs(Math.floor(random() * H * 150));
    try { process.kill(reaper.pid, 'SIGKILL'); } catch { /* already gone */ }
    await waitFor(() => !alive(reaper.pid, reaper.start), 5000);
    // A new sweep resumes what was interrupted (until nothing is left to do).
    for (let i = 0; i < 10; i++) {
      const once = await run([`${BIN}/ws-reaper`, '--once'], { cwd: dir, env, timeout: 60000 });
      judge(row, once, `trial ${t} ws-reaper --once`);
      if (!fs.existsSync(path.join(ctx, 'unload-run')) && readJson(path.join(ctx, 'context.json'))?.state === 'unloaded') break;
    }
    await stopHome(home);
    for (let k = 1; k <= H; k++) {
      row.hooks++;
      const n = lines(`${mark}.${k}`);
      if (n === 0) { row.lost++; row.notes.push(`trial ${t}: hook ${k} never ran`); }
      if (n > 1) { row.dup += n - 1; row.notes.push(`trial ${t}: hook ${k} ran ${n} times`); }
    }
  }
  row.notes.unshift(`${row.hooks} hook runs checked over ${row.trials} kills`);
  return [row];
}

export async function corruptState() { return []; }
export async function hostileValues() { return []; }
export async function permsAndLinks() { return []; }
export async function fullDisk() { return []; }
export async function services() { return []; }
