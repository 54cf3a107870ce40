/**
 * The simulator's control port: the Switch control API as JSON over HTTP, for
 * `fife switch-sim` users (demos, load scripts, other languages). Loopback by default.
 *
 * Contract (every body and answer is JSON; errors are {error} with 400 / 404 / 413)
 *   GET    /status                       {coreUuid, eslPort, channels, connections}
 *   GET    /calls                        [channel snapshot]
 *   GET    /calls/:uuid                  snapshot, 404 if none
 *   POST   /calls {from,to,callerIdName?,context?,variables?,socket?,caller?,callee?}   201 {uuid}
 *          (created + parked, or handed to an outbound-socket server: socket = "host:port async
 *          full"); caller / callee: phone scripts for this call only (callee = the phone `to`)
 *   POST   /calls/:uuid/dtmf {digits, durationMs?}
 *   POST   /calls/:uuid/hangup {cause?}
 *   POST   /calls/:uuid/answer           the device answers (ringing leg) / uuid_answer
 *   POST   /calls/:uuid/reject {cause?, sipCode?}  a ringing leg refuses (with that SIP code)
 *   POST   /calls/:uuid/kill             fault: vanishes with no events
 *   GET    /endpoints                    [device]
 *   POST   /endpoints {user, mode?, answerAfterMs?, rejectSipCode?, rejectCause?, hangupAfterMs?,
 *          dtmf?: [{atMs, digits}]}   201 (registers the phone; a bus gets its reg_success)
 *   POST   /endpoints/:user/next {script}   the next call to that phone follows this script
 *   DELETE /endpoints/:user              unregisters it (404 if it was not registered)
 *   POST   /faults {replyDelayMs?, eventDelayMs?, eventsBeforeReply?, fragmentWrites?, partition?,
 *                   refuse?: string[], swallowEvents?: string[], stallReplies?: boolean,
 *                   appDelayMs?: {<application>: ms}  (0 removes the delay)}
 *   POST   /faults/reset | /faults/drop {reset?} | /faults/restart {downMs?} | /faults/inject {raw}
 *   POST   /events {name, headers?: {k: v}, body?}   fires an event with no channel
 * Answers `{ok: false}` with 404 when the call does not exist or is not in a state for it.
 * A request body over 1 MiB is refused (413); bad JSON gets 400. Nothing here throws.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../kernel/log.ts';
import { DEVICE_MODES, type DeviceMode, type PhoneScript } from './endpoints.ts';
import type { Switch } from './switch.ts';

export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<Json> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body over 1 MiB');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Json;
  } catch (err) {
    throw new HttpError(
      400,
      `body is not a JSON object: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

const str = (b: Json, k: string, required = false): string | undefined => {
  const v = b[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `"${k}" must be a non-empty string`);
  return v;
};
const num = (b: Json, k: string): number | undefined =>
  typeof b[k] === 'number' ? (b[k] as number) : undefined;
const strings = (b: Json, k: string): string[] | undefined =>
  Array.isArray(b[k]) ? (b[k] as unknown[]).map(String) : undefined;
/** `appDelayMs` of POST /faults: {application: ms >= 0}, undefined when absent; else a 400. */
function appDelays(v: unknown): Record<string, number> | undefined {
  if (v === undefined) return undefined;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((ms) => typeof ms === 'number' && Number.isFinite(ms) && ms >= 0);
  if (!ok) throw new HttpError(400, '"appDelayMs" must map application names to milliseconds (>= 0)');
  return v as Record<string, number>;
}
const record = (b: Json, k: string): Record<string, string> | undefined =>
  typeof b[k] === 'object' && b[k] !== null
    ? Object.fromEntries(Object.entries(b[k] as Json).map(([kk, v]) => [kk, String(v)]))
    : undefined;

const ms = (b: Json, k: string): number | undefined => {
  const v = b[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new HttpError(400, `"${k}" must be a non-negative integer (ms)`);
  return v;
};

/** A phone script from a JSON body (see endpoints.ts); every field is checked. */
function scriptOf(b: Json): PhoneScript {
  const mode = str(b, 'mode') as DeviceMode | undefined;
  if (mode !== undefined && !DEVICE_MODES.includes(mode))
    throw new HttpError(400, `"mode" must be one of ${DEVICE_MODES.join(', ')}`);
  const sip = ms(b, 'rejectSipCode');
  if (sip !== undefined && (sip < 300 || sip > 699))
    throw new HttpError(400, '"rejectSipCode" must be a SIP failure code (300-699)');
  let dtmf: PhoneScript['dtmf'];
  if (b.dtmf !== undefined) {
    if (!Array.isArray(b.dtmf)) throw new HttpError(400, '"dtmf" must be a list of {atMs, digits}');
    dtmf = (b.dtmf as unknown[]).map((step) => {
      const o = (typeof step === 'object' && step !== null ? step : {}) as Json;
      const digits = str(o, 'digits', true) ?? '';
      if (!/^[0-9*#A-D]+$/i.test(digits))
        throw new HttpError(400, `bad DTMF digits ${JSON.stringify(digits)}`);
      return { atMs: ms(o, 'atMs') ?? 0, digits };
    });
  }
  const script: PhoneScript = {
    mode,
    answerAfterMs: ms(b, 'answerAfterMs'),
    rejectSipCode: sip,
    rejectCause: str(b, 'rejectCause'),
    hangupAfterMs: ms(b, 'hangupAfterMs'),
    dtmf,
  };
  return Object.fromEntries(Object.entries(script).filter(([, v]) => v !== undefined)) as PhoneScript;
}

const scriptField = (b: Json, k: string): PhoneScript | undefined =>
  typeof b[k] === 'object' && b[k] !== null ? scriptOf(b[k] as Json) : undefined;

export async function startControlServer(
  sw: Switch,
  opts: { port?: number; host?: string; logger: Logger },
): Promise<ControlServer> {
  const log = opts.logger.child({ component: 'switch-sim-control' });
  let release: (() => void) | undefined;

  async function route(
    method: string,
    path: string[],
    body: () => Promise<Json>,
  ): Promise<[number, unknown]> {
    const [top, id, action] = path;
    const found = (ok: boolean): [number, unknown] =>
      ok ? [200, { ok: true }] : [404, { ok: false, error: `no channel ${id ?? ''} in a state for that` }];
    if (method === 'GET' && top === 'status')
      return [
        200,
        {
          coreUuid: sw.coreUuid,
          eslPort: sw.port,
          channels: sw.channelCount,
          connections: sw.connectionCount,
        },
      ];
    if (top === 'calls') {
      if (method === 'GET' && id === undefined) return [200, sw.channels()];
      if (method === 'GET') {
        const ch = sw.channel(id ?? '');
        return ch === undefined ? [404, { error: `no channel ${id}` }] : [200, ch];
      }
      if (method === 'POST' && id === undefined) {
        const b = await body();
        const uuid = sw.placeCall({
          from: str(b, 'from', true) ?? '',
          to: str(b, 'to', true) ?? '',
          callerIdName: str(b, 'callerIdName'),
          context: str(b, 'context'),
          variables: record(b, 'variables'),
          socket: str(b, 'socket'),
          caller: scriptField(b, 'caller'),
          callee: scriptField(b, 'callee'),
        });
        return [201, { uuid }];
      }
      if (method === 'POST' && id !== undefined) {
        const b = await body();
        if (action === 'dtmf')
          return found(
            sw.pressDigits(id, str(b, 'digits', true) ?? '', { durationMs: num(b, 'durationMs') }),
          );
        if (action === 'hangup') return found(sw.hangup(id, str(b, 'cause')));
        if (action === 'answer') return found(sw.answer(id));
        if (action === 'reject') {
          const sip = ms(b, 'sipCode');
          if (sip !== undefined && (sip < 300 || sip > 699))
            throw new HttpError(400, '"sipCode" must be a SIP failure code (300-699)');
          return found(sw.reject(id, str(b, 'cause'), sip));
        }
        if (action === 'kill') return found(sw.killChannel(id));
      }
    }
    if (top === 'endpoints') {
      if (method === 'GET') return [200, sw.endpoints.list()];
      if (method === 'DELETE' && id !== undefined)
        return sw.unregisterEndpoint(id)
          ? [200, { ok: true }]
          : [404, { ok: false, error: `no phone ${id}` }];
      if (method === 'POST' && id !== undefined && action === 'next') {
        const b = await body();
        return sw.scriptNextCall(id, scriptOf(b))
          ? [200, { ok: true }]
          : [404, { ok: false, error: `no phone ${id} registered` }];
      }
      if (method === 'POST' && id === undefined) {
        const b = await body();
        return [201, sw.registerEndpoint(str(b, 'user', true) ?? '', scriptOf(b))];
      }
    }
    if (top === 'faults' && method === 'POST') {
      const b = await body();
      const f = sw.faults;
      if (id === 'reset') {
        release = undefined;
        sw.heal();
        f.reset();
      } else if (id === 'drop') return [200, { dropped: sw.dropConnections({ reset: b.reset === true }) }];
      else if (id === 'restart') await sw.restart({ downMs: num(b, 'downMs') });
      else if (id === 'inject') return [200, { written: sw.injectRaw(str(b, 'raw', true) ?? '') }];
      else if (id === undefined) {
        const delays = appDelays(b.appDelayMs);
        f.replyDelayMs = num(b, 'replyDelayMs') ?? f.replyDelayMs;
        f.eventDelayMs = num(b, 'eventDelayMs') ?? f.eventDelayMs;
        if (typeof b.eventsBeforeReply === 'boolean') f.eventsBeforeReply = b.eventsBeforeReply;
        if (typeof b.fragmentWrites === 'boolean') f.fragmentWrites = b.fragmentWrites;
        if (b.partition === true) sw.partition();
        if (b.partition === false) sw.heal();
        for (const r of strings(b, 'refuse') ?? []) f.refuse.add(r);
        for (const e of strings(b, 'swallowEvents') ?? []) f.swallowEvents.add(e);
        for (const [app, ms] of Object.entries(delays ?? {}))
          if (ms === 0) f.appDelayMs.delete(app);
          else f.appDelayMs.set(app, ms);
        if (b.stallReplies === true && release === undefined) release = f.stallReplies();
        if (b.stallReplies === false) {
          release?.();
          release = undefined;
        }
      } else return [404, { error: `unknown fault ${id}` }];
      log.warn({ fault: id ?? b }, 'fault injection changed');
      return [200, { ok: true, coreUuid: sw.coreUuid }];
    }
    if (top === 'events' && method === 'POST') {
      const b = await body();
      sw.raiseEvent(str(b, 'name', true) ?? '', Object.entries(record(b, 'headers') ?? {}), str(b, 'body'));
      return [200, { ok: true }];
    }
    return [404, { error: `no route ${method} /${path.join('/')}` }];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path =
      (req.url ?? '/')
        .split('?')[0]
        ?.split('/')
        .filter((p) => p !== '')
        .map(decodeURIComponent) ?? [];
    let status: number;
    let answer: unknown;
    try {
      [status, answer] = await route(req.method ?? 'GET', path, () => readJson(req));
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500;
      answer = { error: err instanceof Error ? err.message : String(err) };
      log.info(
        { method: req.method, url: req.url, status, err: (answer as Json).error },
        'control request failed',
      );
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  }

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
