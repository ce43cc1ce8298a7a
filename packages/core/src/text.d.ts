// Files bundled as text (tsup's `text` loader; vitest.config.ts does the same):
// shell code and Nix expressions shipped inside the binaries.
declare module '*.bash' {
  const text: string;
  export default text;
}
declare module '*.zsh' {
  const text: string;
  export default text;
}
declare module '*.fish' {
  const text: string;
  export default text;
}
declare module '*.nix' {
  const text: string;
  export default text;
}
declare module '*.nu' {
  const text: string;
  export default text;
}
