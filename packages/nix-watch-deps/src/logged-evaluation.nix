# Evaluates a Nix file (like nix-shell) or a flake (like nix develop) and
# traces every path that a builtin reads, so that nix-watch-deps can list
# them. Nix's own `-vv` log adds what it reports by itself: the files it
# imports ("evaluating file") and the sources it copies ("copied source").
#
# Every trace line is `nix-watch-deps KIND JSON`; KIND says whether Nix
# followed a symlink in the last component:
#   read  Nix read through it (readFile, readDir, hashFile)
#   path  Nix looked at the path itself (pathExists, filterSource, path)
# The JSON string keeps quotes and newlines in file names unambiguous.
{
  # Absolute path of the Nix file to evaluate (file mode).
  entry ? "",
  # A flake reference that builtins.getFlake accepts (flake mode).
  flake ? "",
  # The flake's directory inside its source tree: "" or "/sub/dir".
  flakeDir ? "",
  # The attribute to pick from the flake ("" = the default dev shell).
  flakeAttr ? "",
}:
let
  note = kind: path: value: builtins.trace "nix-watch-deps ${kind} ${builtins.toJSON (toString path)}" value;

  # Files imported through `overrides` see `overrides` instead of the real
  # builtins. scopedImport bypasses Nix's import cache, so a file imported
  # twice is parsed twice: the price of seeing every read.
  overrides = {
    import = path: builtins.scopedImport overrides path;
    scopedImport = scope: builtins.scopedImport (overrides // scope);
    builtins = builtins // logged;
  } // {
    # The double-underscore globals are the same builtins under other names.
    __readFile = logged.readFile;
    __readDir = logged.readDir;
    __pathExists = logged.pathExists;
    __hashFile = logged.hashFile;
    __filterSource = logged.filterSource;
    __path = logged.path;
  };

  logged = {
    import = overrides.import;
    scopedImport = overrides.scopedImport;
    readFile = path: note "read" path (builtins.readFile path);
    readDir = path: note "read" path (builtins.readDir path);
    hashFile = type: path: note "read" path (builtins.hashFile type path);
    # A path that does not exist yet is reported too: creating it changes
    # the result.
    pathExists = path: note "path" path (builtins.pathExists path);
    filterSource = filter: path: note "path" path (builtins.filterSource filter path);
    path = args: if args ? path then note "path" args.path (builtins.path args) else builtins.path args;
  };

  # nix-shell calls a file that evaluates to a function with its defaults.
  autoCall = value: if builtins.isFunction value then value { } else value;

  fromFile = autoCall (overrides.import entry);

  # Nix evaluates the flake's outputs itself, out of reach of `overrides`;
  # so take the locked inputs and the source from builtins.getFlake and
  # call the outputs function again, the way Nix's call-flake.nix does.
  fromFlake =
    let
      locked = builtins.getFlake flake;
      source = locked.sourceInfo.outPath;
      flakeNix = overrides.import "${source}${flakeDir}/flake.nix";
      outputs = flakeNix.outputs (locked.inputs // { inherit self; });
      self = outputs // locked.sourceInfo // {
        inherit outputs;
        inherit (locked) inputs sourceInfo;
      };
      system = builtins.currentSystem;
      # The same search as `nix develop` in Nix 2.8.
      candidates =
        if flakeAttr == "" then
          [ "devShells.${system}.default" "devShell.${system}" "packages.${system}.default" "defaultPackage.${system}" ]
        else if builtins.substring 0 1 flakeAttr == "." then
          [ (builtins.substring 1 (-1) flakeAttr) ]
        else
          [ "devShells.${system}.${flakeAttr}" "packages.${system}.${flakeAttr}" "legacyPackages.${system}.${flakeAttr}" flakeAttr ];
      splitPath = attrPath: builtins.filter builtins.isString (builtins.split "\\." attrPath);
      lookup = value: names:
        if names == [ ] then { found = true; inherit value; }
        else if builtins.isAttrs value && builtins.hasAttr (builtins.head names) value
        then lookup value.${builtins.head names} (builtins.tail names)
        else { found = false; };
      hits = builtins.filter (hit: hit.found) (map (attrPath: lookup outputs (splitPath attrPath)) candidates);
      quoted = builtins.concatStringsSep ", " (map (attrPath: "'${attrPath}'") candidates);
    in
    note "flake-source" source (
      if hits == [ ] then throw "flake '${flake}' does not provide attribute ${quoted}"
      else (builtins.head hits).value
    );
in
note "store-dir" builtins.storeDir (if flake != "" then fromFlake else fromFile)
