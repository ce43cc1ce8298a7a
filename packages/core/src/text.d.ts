declare module '*.bash' {
  const text: string;
  export default text;
}
declare module '*.nix' {
  const text: string;
  export default text;
}
