/**
 * The node connection's operations: how the router, authn and call_control use the
 * switch. The node connection process (node-connection.ts) is the only holder of the
 * event-socket connection; the others ask it (Kazoo's ecallmgr_fs_node / freeswitch:api
 * calls made through the node).
 *
 * Contract
 * - `switchOp(rt, link, op)`: a call to the node connection; resolves with the switch's
 *   answer (api body, Reply-Text, `''` for execute and hangup) or rejects with the
 *   connection's error (EslCommandError, EslDisconnectedError, ...) or, when no node
 *   connection runs, NodeDownError. For code that runs beside a mailbox (the router's and
 *   authn's look-ups), whose outcome then comes back to its process as a message.
 * - `castSwitchOp(ctx, link, op, tag)`: a cast; the outcome comes back to the caller as a
 *   `SwitchReply` message carrying `tag`, sent through the node connection's mailbox, so it
 *   is seen after every switch event that came before it on the socket (a CHANNEL_HANGUP
 *   before the completion of the application it ended). False (nothing sent) when no node
 *   connection runs.
 * - `switchUp(rt, link)`: whether the switch's connection is up now (read from the node
 *   connection's protected table, row `status`: a view of the connection's state only);
 *   false when no node connection runs.
 */
import { GenServer, Table, type Pid, type ProcessContext, type Runtime } from '../../src/kernel/index.ts';
import { names, type SwitchLink } from './context.ts';

export type SwitchOp =
  | { readonly kind: 'api'; readonly command: string }
  | { readonly kind: 'execute'; readonly callId: string; readonly app: string; readonly arg?: string }
  | { readonly kind: 'hangup'; readonly callId: string; readonly cause: string }
  /** A background api command; its answer is the BACKGROUND_JOB's body. */
  | { readonly kind: 'bgapi'; readonly command: string; readonly timeoutMs?: number }
  /** Executes `steps` on `callId` one after the other, then the api command if any: one
   *  dialplan command's plan (bridge.ts); fails at the first step that fails. */
  | {
      readonly kind: 'sequence';
      readonly callId: string;
      readonly steps: ReadonlyArray<readonly [string, string]>;
      readonly api?: string;
    }
  /** Transfers `callId` into one extension of `steps` (sendmsg xferext, as Kazoo's
   *  ecallmgr sends a bridge); done when the last step has completed. */
  | {
      readonly kind: 'xferext';
      readonly callId: string;
      readonly steps: ReadonlyArray<readonly [string, string]>;
    }
  | {
      readonly kind: 'command';
      readonly line: string;
      readonly headers?: Readonly<Record<string, string>>;
    };

/** What a cast operation sends back to its caller. */
export interface SwitchReply {
  readonly type: 'switch_reply';
  readonly tag: unknown;
  readonly reply?: string;
  readonly error?: unknown;
}

/** The requests the node connection serves (node-connection.ts). */
export type SwitchRequest =
  | { readonly type: 'switch_op'; readonly op: SwitchOp }
  | { readonly type: 'switch_op_cast'; readonly op: SwitchOp; readonly to: Pid; readonly tag: unknown };

export interface SwitchStatus {
  readonly isUp: boolean;
}

export class NodeDownError extends Error {
  constructor(switchName: string, what: string) {
    super(`${what}: no node connection for switch ${switchName}`);
    this.name = 'NodeDownError';
  }
}

const describeOp = (op: SwitchOp): string =>
  op.kind === 'api' || op.kind === 'bgapi'
    ? `${op.kind} ${op.command}`
    : op.kind === 'command'
      ? op.line
      : op.kind === 'sequence' || op.kind === 'xferext'
        ? `${op.kind === 'xferext' ? 'xferext ' : ''}${op.steps.map(([app]) => app).join(', ')} on ${op.callId}`
        : `${op.kind} ${op.kind === 'execute' ? op.app : op.cause} on ${op.callId}`;

export async function switchOp(rt: Runtime, link: SwitchLink, op: SwitchOp): Promise<string> {
  const node = rt.whereis(names.node(link.identity.name));
  if (node === undefined) throw new NodeDownError(link.identity.name, describeOp(op));
  const r = await GenServer.call<{ reply?: string; error?: unknown }>(
    rt,
    node,
    { type: 'switch_op', op } satisfies SwitchRequest,
    'infinity',
  );
  if ('error' in r) throw r.error;
  return r.reply ?? '';
}

export function castSwitchOp(ctx: ProcessContext, link: SwitchLink, op: SwitchOp, tag: unknown): boolean {
  return GenServer.cast(ctx.runtime, names.node(link.identity.name), {
    type: 'switch_op_cast',
    op,
    to: ctx.self,
    tag,
  } satisfies SwitchRequest);
}

export function switchUp(rt: Runtime, link: SwitchLink): boolean {
  const id = Table.whereis(rt, names.switchTable(link.identity.name));
  if (id === undefined) return false;
  return Table.reader<'status', SwitchStatus>(rt, id).lookup('status')?.isUp === true;
}
