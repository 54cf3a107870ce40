/**
 * switch commands: one gen_listener per switch (Kazoo's ecallmgr_fs_node_command, fed by
 * ecallmgr_fs_node's `switch.command.<node>` binding). Apps ask the ecallmgr attached to a
 * switch to run a node command there and get a switch_reply back.
 *
 * Contract
 * - Queue: anonymous, bound to `switch` / `switch.command.<node>` (node = the switch's
 *   name, the FreeSWITCH-Node apps address). Started after the node connection under the
 *   node supervisor (rest_for_one), so it is restarted with it, and stopped with it.
 * - `send_http` with Args {File-Name, Url, Http-Method (default put)}: runs
 *   `bgapi http_<method> <Url> <File-Name>` on the switch (FreeSWITCH's http_put, 4.3's
 *   call) and answers switch_reply Result `success` when the output starts with `+OK`,
 *   else Result `error` with Error = the switch's output (`-ERR ...`: no such file, the
 *   HTTP status, connection refused) or `failure: <why>` when the switch could not be
 *   asked (node down, socket lost, no answer in time).
 * - Args that are not an object, or lack a Url or File-Name (or have spaces in them, which
 *   the api line cannot carry): Result `error`, Error `invalid arguments: <why>`, a warn
 *   line. Another Command: Result `error`, Error `<command> not_implemented` (4.3's
 *   answer). A message the catalogue rejects never gets here: gen_listener logs it and
 *   answers the catalogue's error to its Server-ID.
 * - The reply goes to the request's Server-ID on `targeted`, with its Msg-ID, Command and
 *   FreeSWITCH-Node. A request without a Server-ID is run and its result only logged.
 * - Commands run as responders, beside the mailbox; each result comes back to the process
 *   as a message and is counted there (`describe`: ok / error counts). Nothing throws out
 *   of a responder: a failed reply publish is logged.
 * - `runOnSwitch` is the one place that reaches the switch.
 */
import { noreply, ok, unexpected, type Runtime } from '../../src/kernel/index.ts';
import { build, switchCommandKey, type Envelope } from '../../src/api/index.ts';
import {
  GenListener,
  type GenListenerBehaviour,
  type ListenerHandlerContext,
} from '../../src/bus/gen-listener.ts';
import { EslCommandError } from '../../src/switch/index.ts';
import { APP_NAME, APP_VERSION, buildContext, type EcallmgrEnv, type SwitchLink } from './context.ts';
import { switchOp, switchUp } from './node-ops.ts';

export interface SwitchCommandsArgs {
  readonly link: SwitchLink;
  readonly env: EcallmgrEnv;
}

interface State {
  readonly a: SwitchCommandsArgs;
  ok: number;
  errors: number;
}

type Result = { Result: 'success' } | { Result: 'error'; Error: string };

/**
 * Runs an api command on the switch in the background (bgapi) and resolves with its
 * output, `-ERR ...` included; rejects when the switch cannot be asked.
 */
export async function runOnSwitch(rt: Runtime, link: SwitchLink, cmd: string): Promise<string> {
  if (!switchUp(rt, link)) throw new Error(`switch ${link.identity.name} is down`);
  try {
    return await switchOp(rt, link, { kind: 'bgapi', command: cmd });
  } catch (err) {
    if (err instanceof EslCommandError) return err.reply;
    throw err;
  }
}

/** The api line for send_http's Args, or why there is none. Pure. */
export function sendHttpLine(args: unknown): string | { invalid: string } {
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    return { invalid: 'Args is not an object' };
  const a = args as Record<string, unknown>;
  const url = a.Url;
  const file = a['File-Name'];
  const method = a['Http-Method'] ?? 'put';
  if (typeof url !== 'string' || url === '') return { invalid: 'no Url' };
  if (typeof file !== 'string' || file === '') return { invalid: 'no File-Name' };
  if (typeof method !== 'string' || !/^[a-z]+$/i.test(method)) return { invalid: 'bad Http-Method' };
  if (/\s/.test(url) || /\s/.test(file)) return { invalid: 'Url and File-Name cannot hold spaces' };
  return `http_${method.toLowerCase()} ${url} ${file}`;
}

async function execute(a: SwitchCommandsArgs, m: Envelope, ctx: ListenerHandlerContext): Promise<Result> {
  const command = String(m.Command);
  if (command !== 'send_http') return { Result: 'error', Error: `${command} not_implemented` };
  const line = sendHttpLine(m.Args);
  if (typeof line !== 'string') {
    ctx.log.warn({ msg_id: m['Msg-ID'], why: line.invalid }, 'send_http with invalid arguments');
    return { Result: 'error', Error: `invalid arguments: ${line.invalid}` };
  }
  try {
    const out = (await runOnSwitch(ctx.runtime, a.link, line)).trim();
    return out.startsWith('+OK') ? { Result: 'success' } : { Result: 'error', Error: out };
  } catch (err) {
    return { Result: 'error', Error: `failure: ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function handle(a: SwitchCommandsArgs, m: Envelope, ctx: ListenerHandlerContext): Promise<void> {
  const result = await execute(a, m, ctx);
  const log = ctx.log.child({ msg_id: m['Msg-ID'], command: m.Command });
  if (result.Result === 'success') log.info('switch command done');
  else log.warn({ error: result.Error }, 'switch command failed');
  ctx.runtime.send(ctx.server, { type: 'command_done', ok: result.Result === 'success' });
  if (typeof m['Server-ID'] !== 'string' || m['Server-ID'] === '') return;
  try {
    const reply = build(
      'switch_reply',
      { ...result, Command: m.Command, 'Msg-ID': m['Msg-ID'], 'FreeSWITCH-Node': a.link.identity.name },
      buildContext(a.env),
    );
    await ctx.reply(reply as Envelope);
  } catch (err) {
    log.error({ err }, 'switch_reply could not be sent');
  }
}

export const SwitchCommands: GenListenerBehaviour<State, SwitchCommandsArgs> = {
  name: 'ecallmgr_switch_commands',
  init: (a) => ok({ a, ok: 0, errors: 0 }),
  listen: (a) => ({
    bindings: [{ exchange: 'switch', routingKey: switchCommandKey(a.link.identity.name) }],
    responders: [{ category: 'switch_event', name: 'command', handler: (m, ctx) => handle(a, m, ctx) }],
  }),
  handleInfo(raw, s) {
    const m = raw as { type?: string; ok?: boolean };
    if (m?.type === 'gen_listener') return noreply(s);
    if (m?.type !== 'command_done') return unexpected(raw, s);
    if (m.ok === true) s.ok++;
    else s.errors++;
    return noreply(s);
  },
  describe: (s) => ({ switch: s.a.link.identity.name, ok: s.ok, errors: s.errors }),
};

export const switchCommandsChildSpec = (a: SwitchCommandsArgs, name: string) =>
  GenListener.childSpec('commands', SwitchCommands, a, {
    transport: a.env.bus,
    name,
    appName: APP_NAME,
    appVersion: APP_VERSION,
    shutdown: 5000,
  });
