import getPort, { clearLockedPorts } from 'get-port';
import type { Proto } from './parse.js';

// Is a port free to bind now? A pure probe: the claim that makes a port
// ours across processes is the reservation file (reservations.ts).

/**
 * Whether a port can be bound now. TCP asks get-port (every local address);
 * its in-process lock is cleared first, so this is a pure probe: the
 * cross-process claim is the reservation file, not get-port's memory.
 */
export async function isPortFree(proto: Proto, port: number): Promise<boolean> {
  if (proto === 'udp') return udpFree(port);
  try {
    clearLockedPorts();
    return (await getPort({ port })) === port;
  } catch {
    return false;
  }
}

/** A port the kernel picks from its ephemeral range, free at that moment. */
export async function ephemeralPort(proto: Proto): Promise<number | undefined> {
  try {
    if (proto === 'tcp') {
      clearLockedPorts();
      return await getPort();
    }
    const port = await bindUdp('udp4', '0.0.0.0', 0);
    return typeof port === 'number' && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function udpFree(port: number): Promise<boolean> {
  const v4 = await bindUdp('udp4', '0.0.0.0', port);
  if (v4 === 'busy') return false;
  const v6 = await bindUdp('udp6', '::', port);
  return v6 !== 'busy' && !(v4 === 'skip' && v6 === 'skip');
}

/** Binds and closes a UDP socket: the bound port, 'busy', or 'skip' if that family is unavailable. */
async function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<number | 'busy' | 'skip'> {
  const { createSocket } = await import('node:dgram');
  return new Promise((done) => {
    const socket = createSocket({ type, reuseAddr: false });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      done(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT'].includes(error.code ?? '') ? 'skip' : 'busy');
    });
    socket.bind({ port, address, exclusive: true }, () => {
      const bound = socket.address().port;
      socket.close(() => done(bound));
    });
  });
}
