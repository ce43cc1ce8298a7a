declare const __WS_VERSION__: string | undefined;

/** Injected by tsup from the root package.json; `0.0.0-dev` when run from source. */
export const VERSION: string = typeof __WS_VERSION__ === 'string' ? __WS_VERSION__ : '0.0.0-dev';
