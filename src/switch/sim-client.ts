/**
 * `fife switch-sim call|phone|dtmf|answer|hangup|calls`: drive a running simulator from a
 * shell, through its HTTP control port (control-server.ts), for a person trying the
 * platform.
 *
 * Contract
 * - The control port is `--control host:port`, else `$FIFE_SWITCH_SIM_CONTROL`, else
 *   127.0.0.1:8022 (start the simulator with `--control-port 8022`).
 * - `call FROM TO [--callee-busy|--callee-no-answer|--callee-answer-after MS|
 *   --callee-reject CODE] [--callee-hangup-after MS]`: a call from FROM to TO is placed
 *   (created and parked, as a phone's INVITE); the callee options script TO for this call
 *   only. Prints the call's UUID.
 * - `phone USER [--answer-after MS|--busy|--no-answer|--reject CODE|--manual]
 *   [--hangup-after MS] [--dtmf DIGITS@MS[,DIGITS@MS...]] [--next] [--unregister]`:
 *   registers USER with that script (again: the script is replaced), or with `--next` sets
 *   it for the next call to USER only, or unregisters it. Prints the phone.
 * - `dtmf CALL DIGITS`, `answer CALL`, `hangup CALL [--cause CAUSE]`, `calls` (one line a
 *   channel: `UUID DIRECTION FROM -> TO CALLSTATE [APPLICATION DATA]`, the application it
 *   executes last or now, e.g. `playback tone_stream://...`).
 * - Bad arguments throw SwitchSimUsageError (exit 2); a refused request (404, 400) or an
 *   unreachable port throws Error with the simulator's message (exit 1).
 */
import { parseArgs } from 'node:util';
import { SwitchSimUsageError } from './sim-errors.ts';

export const CLIENT_COMMANDS = ['call', 'phone', 'dtmf', 'answer', 'hangup', 'calls'] as const;

export const SWITCH_SIM_CLIENT_USAGE = `Drive a running simulator (its --control-port) from the shell:
  fife switch-sim call FROM TO [--callee-busy | --callee-no-answer | --callee-answer-after MS |
                                --callee-reject CODE] [--callee-hangup-after MS]
  fife switch-sim phone USER [--answer-after MS | --busy | --no-answer | --reject CODE | --manual]
                             [--hangup-after MS] [--dtmf DIGITS@MS,...] [--next] [--unregister]
  fife switch-sim dtmf CALL DIGITS
  fife switch-sim answer CALL
  fife switch-sim hangup CALL [--cause CAUSE]
  fife switch-sim calls
  each takes --control HOST:PORT (default $FIFE_SWITCH_SIM_CONTROL or 127.0.0.1:8022)`;

const OPTIONS = {
  control: { type: 'string' },
  'answer-after': { type: 'string' },
  busy: { type: 'boolean' },
  'no-answer': { type: 'boolean' },
  reject: { type: 'string' },
  manual: { type: 'boolean' },
  'hangup-after': { type: 'string' },
  dtmf: { type: 'string' },
  next: { type: 'boolean' },
  unregister: { type: 'boolean' },
  cause: { type: 'string' },
  'callee-answer-after': { type: 'string' },
  'callee-busy': { type: 'boolean' },
  'callee-no-answer': { type: 'boolean' },
  'callee-reject': { type: 'string' },
  'callee-hangup-after': { type: 'string' },
} as const;

type Values = Record<string, string | boolean | undefined>;

function ms(name: string, v: string | boolean | undefined): number | undefined {
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new SwitchSimUsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function sipCode(name: string, v: string | boolean | undefined): number | undefined {
  const n = ms(name, v);
  if (n !== undefined && (n < 300 || n > 699))
    throw new SwitchSimUsageError(`--${name} must be a SIP failure code (300-699), got ${n}`);
  return n;
}

/** A phone script from the options, with `prefix` ('' or 'callee-'). */
function script(v: Values, prefix: string): Record<string, unknown> {
  const modes = [
    v[`${prefix}busy`] === true ? 'busy' : undefined,
    v[`${prefix}no-answer`] === true ? 'noanswer' : undefined,
    v[`${prefix}reject`] !== undefined ? 'reject' : undefined,
    v[`${prefix}manual`] === true ? 'manual' : undefined,
    v[`${prefix}answer-after`] !== undefined ? 'auto' : undefined,
  ].filter((m) => m !== undefined);
  if (modes.length > 1)
    throw new SwitchSimUsageError(
      `choose one of --${prefix}answer-after, --${prefix}busy, --${prefix}no-answer, --${prefix}reject${prefix === '' ? ', --manual' : ''}`,
    );
  const s: Record<string, unknown> = {
    mode: modes[0],
    answerAfterMs: ms(`${prefix}answer-after`, v[`${prefix}answer-after`]),
    rejectSipCode: sipCode(`${prefix}reject`, v[`${prefix}reject`]),
    hangupAfterMs: ms(`${prefix}hangup-after`, v[`${prefix}hangup-after`]),
  };
  const dtmf = v.dtmf;
  if (prefix === '' && typeof dtmf === 'string')
    s.dtmf = dtmf.split(',').map((step) => {
      const m = /^([0-9*#A-D]+)@(\d+)$/i.exec(step.trim());
      if (m === null)
        throw new SwitchSimUsageError(`--dtmf takes DIGITS@MS[,DIGITS@MS...], got ${JSON.stringify(step)}`);
      return { digits: m[1], atMs: Number(m[2]) };
    });
  return Object.fromEntries(Object.entries(s).filter(([, x]) => x !== undefined));
}

function positionals(cmd: string, got: string[], names: string[], optional = 0): string[] {
  if (got.length < names.length - optional || got.length > names.length)
    throw new SwitchSimUsageError(`usage: fife switch-sim ${cmd} ${names.join(' ')}`);
  return got;
}

async function request(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(
      `no simulator control port at ${base} (${(err as Error).message}); start one with 'fife switch-sim --control-port 8022'`,
      { cause: err },
    );
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${String(json.error ?? res.status)}`);
  return json;
}

/** Runs one client command; returns what it printed (one line, or JSON for phone/calls). */
export async function switchSimClient(
  argv: string[],
  out: (line: string) => void = (l) => void process.stdout.write(`${l}\n`),
): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new SwitchSimUsageError((err as Error).message.split(/\.( |$)/)[0]!);
  }
  const v = parsed.values as Values;
  const [cmd = '', ...rest] = parsed.positionals;
  const control =
    (v.control as string | undefined) ?? process.env.FIFE_SWITCH_SIM_CONTROL ?? '127.0.0.1:8022';
  if (!/^[^\s/:]+:\d+$/.test(control))
    throw new SwitchSimUsageError(`--control must be HOST:PORT, got ${JSON.stringify(control)}`);
  const base = `http://${control}`;
  const enc = encodeURIComponent;
  switch (cmd) {
    case 'call': {
      const [from, to] = positionals(cmd, rest, ['FROM', 'TO']);
      const callee = script(v, 'callee-');
      const r = (await request(base, 'POST', '/calls', {
        from,
        to,
        callee: Object.keys(callee).length > 0 ? callee : undefined,
      })) as { uuid: string };
      return out(r.uuid);
    }
    case 'phone': {
      const [user = ''] = positionals(cmd, rest, ['USER']);
      if (v.unregister === true) {
        await request(base, 'DELETE', `/endpoints/${enc(user)}`);
        return out(`${user} unregistered`);
      }
      const s = script(v, '');
      if (v.next === true) {
        await request(base, 'POST', `/endpoints/${enc(user)}/next`, s);
        return out(`the next call to ${user} follows ${JSON.stringify(s)}`);
      }
      return out(JSON.stringify(await request(base, 'POST', '/endpoints', { user, ...s })));
    }
    case 'dtmf': {
      const [call = '', digits] = positionals(cmd, rest, ['CALL', 'DIGITS']);
      await request(base, 'POST', `/calls/${enc(call)}/dtmf`, { digits });
      return out('ok');
    }
    case 'answer': {
      const [call = ''] = positionals(cmd, rest, ['CALL']);
      await request(base, 'POST', `/calls/${enc(call)}/answer`);
      return out('ok');
    }
    case 'hangup': {
      const [call = ''] = positionals(cmd, rest, ['CALL']);
      await request(base, 'POST', `/calls/${enc(call)}/hangup`, { cause: v.cause });
      return out('ok');
    }
    case 'calls': {
      positionals(cmd, rest, []);
      const calls = (await request(base, 'GET', '/calls')) as Array<Record<string, unknown>>;
      for (const c of calls) {
        // What the channel is executing, as `uuid_dump` shows it: `playback FILE`, `bridge ...`.
        const vars = (c.variables ?? {}) as Record<string, string>;
        const app =
          vars.current_application === undefined
            ? ''
            : ` ${vars.current_application} ${vars.current_application_data ?? ''}`.trimEnd();
        out(
          `${String(c.uuid)} ${String(c.direction)} ${String(c.callerIdNumber)} -> ${String(c.destinationNumber)} ${String(c.callState)}${app}`,
        );
      }
      return;
    }
    default:
      throw new SwitchSimUsageError(
        `unknown command ${JSON.stringify(cmd)}; one of ${CLIENT_COMMANDS.join(', ')}`,
      );
  }
}
