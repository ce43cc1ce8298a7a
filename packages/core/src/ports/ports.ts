// Ports that don't collide (SPEC §4 allocate_port, docs/state-home.md
// "ports/"): what the rest of ws uses of ports/, one file per concern.
//   parse.ts         PREFERRED, --range, --key, the protocol
//   probe.ts         is a port free to bind now
//   reservations.ts  ports/<proto>-<port>: atomic claims, stale rules, release, prune
//   allocate.ts      sticky allocation per (context, key), ports.json, key locks

export { parseKey, parsePort, parseRange, type Proto } from './parse.js';
export { isPortFree } from './probe.js';
export { listPorts, prunePorts, releasePorts, reservationPath, type PortListing, type PortReservation } from './reservations.js';
export { allocatePort, portContext, portMemoryPath, type AllocateOptions, type Allocation, type PortContext } from './allocate.js';
