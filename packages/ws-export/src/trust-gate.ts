import { allowRecordPath, denyRecordPath, trustGate, type Approval } from '@ws/core';

/**
 * The trust gate of a context: what its workspace file and the
 * `.workspace.local` beside it may run as. The approvals are exactly what
 * core's trustGate checked (the allowed content's sha256, or the explicit
 * trusted-dir marker); the build request carries them unchanged and the
 * driver runs nothing else.
 */
export type ContextGate = { kind: 'approved'; file: Approval; local?: Approval } | { kind: 'blocked'; message: string };

export function gateContext(home: string, file: string, local: string | undefined, env: NodeJS.ProcessEnv): ContextGate {
  const approvals: Approval[] = [];
  for (const path of local === undefined ? [file] : [file, local]) {
    let decision: ReturnType<typeof trustGate>;
    try {
      decision = trustGate(home, path, env);
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (error as Error).message;
      return { kind: 'blocked', message: `ws: cannot read ${path}: ${why}` };
    }
    if (decision.kind === 'blocked') return { kind: 'blocked', message: `ws: ${path} is blocked. Run 'ws-allow' to approve its content.` };
    approvals.push(decision);
  }
  return { kind: 'approved', file: approvals[0], ...(local === undefined ? {} : { local: approvals[1] }) };
}

/**
 * An approval as the driver reads it (`_WS_FILE_APPROVAL`): `sha256:<hex>` or
 * `trusted-dir`. There is no empty form: the driver refuses anything else.
 */
export function approvalToken(approval: Approval): string {
  if (approval.kind === 'allowed') return `sha256:${approval.sha256}`;
  if (approval.kind === 'trusted-dir') return 'trusted-dir';
  // Not an approval (a corrupt request.json): a token the driver refuses.
  return '';
}

export const sameApproval = (a: Approval | undefined, b: Approval | undefined) =>
  (a === undefined ? '' : approvalToken(a)) === (b === undefined ? '' : approvalToken(b));

/**
 * The trust records to watch, so that ws-allow and ws-deny take effect at
 * the next prompt. Allowed: ws-deny removes the allow record, so its
 * existence is enough (a deny record beside an allow record that matches
 * changes nothing: the gate reads the allow record first). Under a trusted
 * directory: the existence of both (a deny record blocks it, an allow record
 * replaces the marker). Blocked: ws-allow may rewrite an existing record, so
 * their mtimes are watched.
 */
export function trustWatches(home: string, files: string[], gate: ContextGate): { watches: string[]; existence: string[] } {
  if (gate.kind === 'blocked') return { watches: files.flatMap((f) => [allowRecordPath(home, f), denyRecordPath(home, f)]), existence: [] };
  const approvals = [gate.file, gate.local];
  return { watches: [], existence: files.flatMap((f, i) => (approvals[i]?.kind === 'allowed' ? [allowRecordPath(home, f)] : [allowRecordPath(home, f), denyRecordPath(home, f)])) };
}
