import { join } from 'node:path';

/**
 * Every path of the state home (docs/state-home.md), in one place: nothing
 * else joins `contexts`, `users`, `cache`, `services`, `ports`… by hand, so a
 * change of layout is a change here.
 */
export const homePaths = (home: string) => ({
  home,
  version: join(home, 'VERSION'),
  allow: join(home, 'allow'),
  deny: join(home, 'deny'),
  contexts: join(home, 'contexts'),
  ports: join(home, 'ports'),
  resources: join(home, 'resources'),
  quarantine: join(home, 'quarantine'),
  roots: join(home, 'roots'),
  events: join(home, 'events.jsonl'),
  eventsRotated: join(home, 'events.jsonl.1'),
  eventsLock: join(home, 'events.lock'),
  /** Followers of the event stream register here (`readers/<pid>-<n>`). */
  readers: join(home, 'readers'),
  reaperPid: join(home, 'reaper.pid'),
  reaperLog: join(home, 'reaper.log'),
  /** A FIFO a reaper's watcher may create: a shell that leaves writes its context directory to it (docs/state-home.md). */
  reaperWake: join(home, 'reaper.wake'),
  gcLock: join(home, 'gc.lock'),
  /** Short-lived locks that outlive nothing: `locks/context-<id>`. */
  locks: join(home, 'locks'),
  /** Contexts being deleted by ws-gc, moved here first. */
  gcTrash: join(home, '.gc'),
  /** The cold path's per-shell scratch files (`cold/tmp/<shell pid>.<ext>`, docs/hook.md "The cold path"). */
  coldScratch: join(home, 'cold', 'tmp'),
});

export type HomePaths = ReturnType<typeof homePaths>;

/**
 * `locks/context-<id>`: a context's entry lock (ws-gc while it moves the
 * context away, an entry while it marks it used). Outside contexts/<id>/ so
 * that moving the directory does not move its lock.
 */
export const contextLockPath = (home: string, id: string) => join(home, 'locks', `context-${id}`);

/** The directory of context `id`. */
export const contextDirOf = (home: string, id: string) => join(home, 'contexts', id);

/** Paths inside one context directory (`contexts/<id>/`). */
export const contextPaths = (dir: string) => ({
  dir,
  record: join(dir, 'context.json'),
  users: join(dir, 'users'),
  /** A load happened since the last unload (a blocked context still unloads). */
  needsUnload: join(dir, 'needs-unload'),
  /** When the last user left: the grace period survives a reaper restart. */
  idleSince: join(dir, 'idle-since'),
  unload: join(dir, 'unload'),
  unloadLock: join(dir, 'unload.lock'),
  unloadLog: join(dir, 'unload.log'),
  unloadRun: join(dir, 'unload-run'),
  unloadRunLock: join(dir, 'unload-run.lock'),
  cache: join(dir, 'cache'),
  services: join(dir, 'services'),
  /** = $WS_STATE_DIR */
  data: join(dir, 'data'),
  portsJson: join(dir, 'ports.json'),
  portsLock: join(dir, 'ports.lock'),
  portLocks: join(dir, 'port-locks'),
});

/** The subdirectories a context directory may have (ws-list reports others as problems). */
export const CONTEXT_SUBDIRS = ['users', 'services', 'unload', 'cache'] as const;

/** `contexts/<id>/users/<pid>`: one user record. */
export const userRecordPath = (contextDir: string, pid: number | string) => join(contextDir, 'users', String(pid));

/** Paths of one service (`contexts/<id>/services/<name>/`). */
export const servicePaths = (contextDir: string, name: string) => {
  const dir = join(contextDir, 'services', name);
  return {
    dir,
    spec: join(dir, 'spec.json'),
    env: join(dir, 'env.json'),
    state: join(dir, 'state.json'),
    /** `{"pid","start"}` of its process group leader, only while it runs. */
    pid: join(dir, 'pid'),
    /** Written by the wrapper when the command ended. */
    exit: join(dir, 'exit'),
    log: join(dir, 'log'),
    logOld: join(dir, 'log.1'),
    lock: join(dir, 'lock'),
  };
};

/** ws-export's own files (`contexts/<id>/cache/`). */
export const cachePaths = (contextDir: string) => {
  const dir = join(contextDir, 'cache');
  const build = join(dir, 'build');
  return {
    dir,
    lastGood: join(dir, 'last-good.json'),
    loadedEnv: join(dir, 'loaded-env.json'),
    applied: join(dir, 'applied'),
    /** A cold entry's adopt: `<shell pid>.adopting` while it runs, then `<shell pid>-<build>`, its shell code (docs/hook.md). */
    adopted: join(dir, 'adopted'),
    /** `applied/<sha256>.json`: one diff a shell applied, content-addressed (WS_DIFF names it). */
    appliedRecord: (hash: string) => join(dir, 'applied', `${hash}.json`),
    stamps: join(dir, 'stamps'),
    /**
     * One export's stamps (`stamps/<ms, 14 digits>-<pid>/`, the order pruneStamps keeps),
     * and in it the validity marker `valid` the hook tests with `-e` at every prompt.
     */
    stampSet: (ms: number, pid: number) => {
      const set = join(dir, 'stamps', `${String(ms).padStart(14, '0')}-${pid}`);
      return { dir: set, valid: join(set, 'valid') };
    },
    nix: join(dir, 'nix'),
    buildLock: join(dir, 'build.lock'),
    build,
    buildRequest: join(build, 'request.json'),
    /** Appears when the build is over: the hook watches it while a build runs. */
    buildStatus: join(build, 'status'),
    /** `PID START` of the process running the build. */
    buildOwner: join(build, 'owner'),
    buildLog: join(build, 'log'),
    /** The build's results, written by the driver (packages/ws-export/src/driver.bash). */
    buildEnv: join(build, 'env'),
    /** Exported variables too long for any environment (over MAX_ARG_STRLEN), left out: `NAME BYTES` lines. */
    buildTooLong: join(build, 'too-long'),
    buildWatches: join(build, 'watches'),
    buildWatchStats: join(build, 'watch-stats'),
    /** What the build's file registered with on_unload (NUL-separated: kind, count, args…). */
    buildOnUnload: join(build, 'on_unload'),
    /** The shared context the build's file declared with ws_context (docs/contexts.md). */
    buildContext: join(build, 'context'),
    /** The env files the build's file read with env_file (NUL-separated paths), for `ws-export envs`. */
    buildEnvFiles: join(build, 'env_files'),
    /** The private copies of the workspace file and `.workspace.local` that the driver verified and sources. */
    buildFileCopy: join(build, 'file.copy'),
    buildLocalCopy: join(build, 'local.copy'),
    /** Present when `ws-export cancel` stopped the build. */
    buildCancelled: join(build, 'cancelled'),
    /** Present once an unload took the build's hooks into its registry. */
    buildAdopted: join(build, 'adopted'),
    /** `ws-export reload`: builds that started before the time it holds are not reused. */
    reload: join(dir, 'reload'),
    /** The cached entry script a shell sources to re-enter without node. */
    enter: (shell: string) => join(dir, `enter.${shell}`),
  };
};

export type CachePaths = ReturnType<typeof cachePaths>;

/** `ports/<proto>-<port>`: one reservation. */
export const portReservationPath = (home: string, proto: string, port: number) => join(home, 'ports', `${proto}-${port}`);

/**
 * The inside of one resource directory — the same layout for a build in
 * progress (`resources/.build/…`), a resource (`resources/<hash>/`) and a
 * quarantine (`quarantine/<hash>/`), so that moving one is one rename.
 */
export const resourceDirPaths = (dir: string) => ({
  dir,
  /** `{"v","hash","state","created","duration_ms","context"}` (docs/resources.md). */
  record: join(dir, 'resource.json'),
  /** The exact inputs that were hashed. */
  inputs: join(dir, 'inputs.json'),
  /** The environment INIT ran with (mode 0600): retry and release run with it. */
  env: join(dir, 'env.json'),
  /** INIT's stdout and stderr, then the release's. */
  log: join(dir, 'log'),
  /** = $out, the path ws-resource prints. */
  out: join(dir, 'out'),
  /** One file per holder: `pid-<pid>` (PID START), `context-<id>`, `resource-<hash>`. */
  holders: join(dir, 'holders'),
  /** The PID START of a running INIT (its process group), only during a build. */
  initPid: join(dir, 'init.pid'),
  /** Quarantine only: why and when it failed. */
  failure: join(dir, 'quarantine.json'),
  retry: join(dir, 'retry'),
  resolve: join(dir, 'resolve'),
  discard: join(dir, 'discard'),
});

/** Where the resource `hash` lives, is quarantined, is built and is locked. */
export const resourcePaths = (home: string, hash: string) => ({
  ...resourceDirPaths(join(home, 'resources', hash)),
  quarantine: join(home, 'quarantine', hash),
  /** Held (PID START) while INIT runs, a holder is added, or a release runs. */
  lock: join(home, 'locks', `resource-${hash}`),
});

/** Working areas of resources/ (dot-names: never a resource). */
export const resourceAreaPaths = (home: string) => ({
  /** Builds in progress: `<hash>.<pid>.<n>/`, renamed into place when complete. */
  build: join(home, 'resources', '.build'),
  /** Resources being deleted (moved here first). */
  trash: join(home, 'resources', '.trash'),
  /** The sequence number `--transient` puts into the hash, and its lock. */
  seq: join(home, 'resources', '.seq'),
  seqLock: join(home, 'locks', 'resource-seq'),
});

/** `roots/<name>`: a symlink that keeps its target alive. */
export const rootPath = (home: string, name: string) => join(home, 'roots', name);
