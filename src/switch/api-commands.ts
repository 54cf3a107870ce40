/**
 * The `api` / `bgapi` commands the simulator answers, with FreeSWITCH's output texts.
 *
 * Contract: `createApi(host)` returns `run(name, args) => Promise<output>`; output is the
 * api/response body. Failures are in the body (`-ERR ...`), never thrown: an unknown
 * command gives `-ERR <name> Command not found!\n`, a missing channel
 * `-ERR No such channel!\n`.
 * Commands: status, version, uptime, originate, uuid_kill, uuid_exists, uuid_answer,
 * uuid_getvar, uuid_setvar, uuid_dump, uuid_bridge (both legs stop what they play first), uuid_break, uuid_park, uuid_transfer
 * (`<uuid> [-bleg|-both] <dest> [dialplan] [context]`; the simulator parks every transferred
 * leg; on a bridged leg both take legs out of the bridge as bridge-exit.ts says),
 * uuid_send_dtmf, uuid_fileman (`<uuid> <cmd>:<val>`: `+OK` on a channel, with or without a
 * playback; the simulator's playbacks keep their length, a seek moves nothing), show channels|calls [as json], hupall, sofia status, reloadxml, eval,
 * echo, global_getvar, create_uuid (a new UUID, as ecallmgr asks before an originate).
 * originate: `originate [{var=val,...}]<dial> <&app(arg)|extension> [dialplan] [context]
 * [cid_name] [cid_num] [timeout_secs]` rings the dial string (`,` at once, `|` in turn,
 * `[]` per-leg variables: ring-race.ts; phones: endpoints.ts), and on
 * answer runs `app(arg)`, or parks when given an extension; `origination_uuid` in the
 * variables is the new leg's Unique-ID (unless a channel has it); `+OK <uuid>\n` or
 * `-ERR <CAUSE>\n`. api originate blocks the connection until then, as in FreeSWITCH.
 */
import type { AppEngine } from './app-engine.ts';
import type { CallModel } from './call-model.ts';
import type { Channel } from './channel.ts';
import { parseDialString } from './dial-string.ts';
import { leaveBridge } from './bridge-exit.ts';
import { ringDialString } from './ring-race.ts';
import { jsonEventBody, plainEventBody } from './esl-wire.ts';
import type { EventFactory } from './event-factory.ts';
import type { SimIds } from './sim-clock.ts';

export interface ApiHost {
  readonly model: CallModel;
  readonly engine: AppEngine;
  readonly events: EventFactory;
  readonly ids: SimIds;
  readonly hostname: string;
  readonly startedMs: number;
  readonly totalCalls: () => number;
}

export type ApiRunner = (name: string, args: string) => Promise<string>;

function parseVars(s: string): { vars: Record<string, string>; rest: string } {
  const m = /^\{([^}]*)\}/.exec(s);
  if (m === null) return { vars: {}, rest: s };
  const vars: Record<string, string> = {};
  for (const kv of (m[1] ?? '').split(',')) {
    const i = kv.indexOf('=');
    if (i > 0) vars[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { vars, rest: s.slice(m[0].length) };
}

function uptimeText(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `UP 0 years, ${Math.floor(s / 86400)} days, ${Math.floor(s / 3600) % 24} hours, ${Math.floor(s / 60) % 60} minutes, ${s % 60} seconds, ${ms % 1000} milliseconds, 0 microseconds`;
}

const SHOW_COLUMNS = [
  'uuid',
  'direction',
  'created',
  'created_epoch',
  'name',
  'state',
  'cid_name',
  'cid_num',
  'ip_addr',
  'dest',
  'application',
  'application_data',
  'dialplan',
  'context',
  'read_codec',
  'read_rate',
  'write_codec',
  'write_rate',
  'secure',
  'hostname',
  'presence_id',
  'presence_data',
  'accountcode',
  'callstate',
  'callee_name',
  'callee_num',
  'callee_direction',
  'call_uuid',
];

function showRow(ch: Channel, engine: AppEngine, hostname: string): Record<string, string> {
  const app = engine.current(ch.uuid) ?? '';
  const created = new Date(Math.floor(ch.times.created / 1000));
  const values = [
    ch.uuid,
    ch.direction,
    created.toISOString().replace('T', ' ').slice(0, 19),
    String(Math.floor(ch.times.created / 1e6)),
    ch.name,
    ch.state,
    ch.profile.callerIdName,
    ch.profile.callerIdNumber,
    ch.profile.networkAddr,
    ch.profile.destinationNumber,
    app,
    ch.variables.get('current_application_data') ?? '',
    'XML',
    ch.profile.context,
    'PCMU',
    '8000',
    'PCMU',
    '8000',
    '',
    hostname,
    '',
    '',
    '',
    ch.callState,
    '',
    '',
    '',
    ch.callUuid,
  ];
  return Object.fromEntries(SHOW_COLUMNS.map((c, i) => [c, values[i] ?? '']));
}

export function createApi(h: ApiHost): ApiRunner {
  const { model, engine } = h;
  const chan = (uuid: string | undefined): Channel | undefined =>
    uuid === undefined ? undefined : model.channels.get(uuid);
  const NO_CHANNEL = '-ERR No such channel!\n';

  async function originate(args: string): Promise<string> {
    const { vars, rest } = parseVars(args.trim());
    const [dial = '', target = '', , , cidName, cidNum, timeout] = rest.split(/\s+/);
    if (dial === '' || target === '')
      return '-ERR Usage: originate <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n';
    const timeoutMs = Number(timeout ?? vars.originate_timeout ?? 60) * 1000;
    const groups = parseDialString(dial).groups.map((g) =>
      g.map((leg) => ({ dial: leg.dial, vars: { ...vars, ...leg.vars } })),
    );
    const result = await ringDialString(
      model,
      { vars: {}, groups },
      {
        from: cidNum ?? vars.origination_caller_id_number,
        callerIdName: cidName ?? vars.origination_caller_id_name,
        timeoutMs,
      },
    );
    if (!result.ok) return `-ERR ${result.cause}\n`;
    const ch = result.channel;
    model.setState(ch, 'CS_EXECUTE');
    const m = /^&([\w-]+)(?:\((.*)\))?$/.exec(target);
    if (m === null) engine.runDialplanPark(ch);
    else
      engine.execute(ch, {
        app: m[1] ?? 'park',
        arg: m[2] ?? '',
        appUuid: h.ids.uuid(),
        eventLock: false,
        loops: 1,
      });
    return `+OK ${ch.uuid}\n`;
  }

  function show(args: string): string {
    const asJson = /\bas\s+json\b/i.test(args);
    const rows = [...model.channels.values()]
      .filter((c) => !/^calls/i.test(args) || c.direction === 'inbound' || c.otherLeg !== undefined)
      .map((c) => showRow(c, engine, h.hostname));
    if (asJson)
      return JSON.stringify(rows.length === 0 ? { row_count: 0 } : { row_count: rows.length, rows });
    const lines = [SHOW_COLUMNS.join(','), ...rows.map((r) => SHOW_COLUMNS.map((c) => r[c]).join(','))];
    return `${lines.join('\n')}\n\n${rows.length} total.\n`;
  }

  const table: Record<string, (args: string) => string | Promise<string>> = {
    status: () =>
      `${uptimeText(Date.now() - h.startedMs)}\nFreeSWITCH (Version 1.10.12 fife-switch-sim 64bit) is ready\n${h.totalCalls()} session(s) since startup\n${model.channels.size} session(s) - peak ${model.channels.size}, last 5min ${model.channels.size}\n0 session(s) per Sec out of max 30, peak 0, last 5min 0\n1000 session(s) max\nmin idle cpu 0.00/100.00\nCurrent Stack Size/Max 240K/8192K\n`,
    version: () => 'FreeSWITCH Version 1.10.12-release~64bit (fife switch simulator)\n',
    uptime: () => `${Math.floor((Date.now() - h.startedMs) / 1000)}\n`,
    originate,
    create_uuid: () => h.ids.uuid(),
    uuid_kill: (a) => {
      const [uuid, cause] = a.split(/\s+/);
      const ch = chan(uuid);
      if (ch === undefined) return NO_CHANNEL;
      model.hangup(ch, cause !== undefined && cause !== '' ? cause.toUpperCase() : 'NORMAL_CLEARING');
      return '+OK\n';
    },
    uuid_exists: (a) => (chan(a.trim()) !== undefined ? 'true' : 'false'),
    uuid_fileman: (a) => {
      const [id, cmd] = a.trim().split(/\s+/);
      if (cmd === undefined || !cmd.includes(':')) return '-ERR Usage: uuid_fileman <uuid> <cmd>:<val>\n';
      return chan(id ?? '') === undefined ? NO_CHANNEL : '+OK\n';
    },
    uuid_answer: (a) => {
      const ch = chan(a.trim());
      if (ch === undefined) return NO_CHANNEL;
      model.answer(ch);
      return '+OK\n';
    },
    uuid_getvar: (a) => {
      const [uuid, name = ''] = a.split(/\s+/);
      const ch = chan(uuid);
      return ch === undefined ? NO_CHANNEL : (ch.variables.get(name) ?? '_undef_');
    },
    uuid_setvar: (a) => {
      const [uuid, name = '', ...value] = a.split(' ');
      const ch = chan(uuid);
      if (ch === undefined) return NO_CHANNEL;
      if (value.length === 0) ch.variables.delete(name);
      else ch.variables.set(name, value.join(' '));
      return '+OK\n';
    },
    uuid_dump: (a) => {
      const [uuid, format] = a.split(/\s+/);
      const ch = chan(uuid);
      if (ch === undefined) return NO_CHANNEL;
      const ev = h.events.make('CHANNEL_DATA', { channel: ch, callingFunction: 'uuid_dump_function' });
      return format === 'json' ? jsonEventBody(ev.headers) : plainEventBody(ev.headers);
    },
    uuid_bridge: (a) => {
      const [ua, ub] = a.split(/\s+/);
      const ca = chan(ua);
      const cb = chan(ub);
      if (ca === undefined || cb === undefined) return `-ERR Invalid uuid ${ca === undefined ? ua : ub}\n`;
      // As switch_ivr_uuid_bridge: both legs leave what they were running (hold music ends).
      engine.breakMedia(ca);
      engine.breakMedia(cb);
      model.answer(ca);
      model.answer(cb);
      model.bridge(ca, cb);
      void Promise.race([model.whenHungUp(ca.uuid), model.whenHungUp(cb.uuid)]).then(() => {
        model.unbridge(ca);
        model.hangup(ca.isHungUp ? cb : ca, (ca.isHungUp ? ca : cb).hangupCause);
      });
      return `+OK ${cb.uuid}\n`;
    },
    uuid_break: (a) => {
      const ch = chan(a.split(/\s+/)[0]);
      if (ch === undefined) return NO_CHANNEL;
      engine.breakMedia(ch);
      return '+OK\n';
    },
    uuid_park: async (a) => {
      const ch = chan(a.trim());
      if (ch === undefined) return NO_CHANNEL;
      if (await leaveBridge(model, engine, ch, 'self')) return '+OK\n';
      engine.breakMedia(ch);
      engine.runDialplanPark(ch);
      return '+OK\n';
    },
    uuid_transfer: async (a) => {
      const [uuid, ...rest] = a.trim().split(/\s+/);
      const ch = chan(uuid);
      if (ch === undefined) return NO_CHANNEL;
      const flag = rest[0] === '-bleg' || rest[0] === '-both' ? rest.shift() : undefined;
      const dest = rest[0] ?? '';
      const which = flag === '-bleg' ? 'peer' : flag === '-both' ? 'both' : 'self';
      const other = ch.otherLeg === undefined ? undefined : chan(ch.otherLeg);
      // switch_ivr_session_transfer: the transferred legs take the new destination.
      for (const leg of which === 'self' ? [ch] : which === 'peer' ? [other] : [ch, other])
        if (leg !== undefined) leg.profile.destinationNumber = dest;
      if (await leaveBridge(model, engine, ch, which)) return '+OK\n';
      engine.breakMedia(ch);
      engine.runDialplanPark(ch);
      return '+OK\n';
    },
    uuid_send_dtmf: (a) => {
      const [uuid, digits = ''] = a.split(/\s+/);
      const ch = chan(uuid);
      if (ch === undefined) return NO_CHANNEL;
      for (const d of digits.replace(/@\d+$/, '')) engine.dtmf(ch, d, 100);
      return '+OK\n';
    },
    show,
    hupall: (a) => {
      const cause =
        a.trim() === '' ? 'MANAGER_REQUEST' : (a.trim().split(/\s+/)[0]?.toUpperCase() ?? 'MANAGER_REQUEST');
      model.hangupAll(cause);
      return `+OK hangup all channels with cause ${cause}\n`;
    },
    sofia: (a) =>
      /^status/.test(a.trim())
        ? `                     Name\t   Type\t                                      Data\tState\n=================================================================================================\n                 internal\tprofile\t           sip:mod_sofia@127.0.0.1:5060\tRUNNING (0)\n=================================================================================================\n1 profile 0 aliases\n`
        : '-ERR Usage: sofia status\n',
    reloadxml: () => '+OK [Success]\n',
    eval: (a) => a,
    echo: (a) => a,
    global_getvar: () => '',
  };

  return async (name, args) => {
    const key = name.toLowerCase();
    // Own keys only: `constructor`, `toString`, ... are not commands.
    const fn = Object.hasOwn(table, key) ? table[key] : undefined;
    if (fn === undefined) return `-ERR ${name} Command not found!\n`;
    return fn(args);
  };
}
