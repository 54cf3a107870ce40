/**
 * A Kazoo dialplan command -> what to ask the switch (Kazoo's `ecallmgr_call_command`). Pure.
 *
 * Contract — `switchAction(cmd, uuid)` returns one of:
 * - `{kind: 'execute', app, arg}`: a sendmsg execute on the call's channel; its
 *   CHANNEL_EXECUTE_COMPLETE ends the command. answer -> answer; hangup -> hangup [cause];
 *   play -> playback <Media-Name>; tts -> playback tts://<Engine>|<Voice>|<Text>;
 *   record -> record <Media-Name> [Time-Limit]; park -> park; tones -> playback
 *   tone_stream://<tones> (toneStream); say -> say <Language (2 letters, default en)>
 *   <Type> <Method> <Say-Text> [Gender], as Kazoo's get_fs_app; noop -> the `event`
 *   application firing CUSTOM kazoo::noop with
 *   kazoo_application_response = the noop's Msg-ID (call_events publishes it as the noop's
 *   CHANNEL_EXECUTE_COMPLETE, as Kazoo does).
 * - `{kind: 'steps', steps}`: several executes, the last one's completion ends the command:
 *   set -> `multiset ^^|ecallmgr_<k>=<v>|...` for Custom-Channel-Vars, the same with
 *   `cav_<k>` for Custom-Application-Vars, `export ecallmgr_<k>=<v>` for each
 *   Custom-Call-Vars (Kazoo's kz_multiset / kz_export; FreeSWITCH's export also sets the
 *   variable on the legs this channel bridges or originates). Kazoo publishes no
 *   CHANNEL_EXECUTE_COMPLETE for set/export. A `|` or newline in a value becomes a space;
 *   names with spaces, `=` or `|` are left out.
 * - `{kind: 'api', command}`: an api command that ends the command when it returns
 *   (playstop -> uuid_break <uuid>; playseek -> uuid_fileman <uuid> seek:+|-<Duration>,
 *   Direction fastforward | rewind, as Kazoo's send_cmd; hangup with Other-Leg-Only true
 *   -> uuid_park <uuid> (4.3's `unbridge` send_cmd: the channel leaves its bridge and the
 *   leg left behind hangs up); unbridge -> uuid_transfer <uuid> [-bleg|-both] park: inline
 *   (ecallmgr_fs_bridge:unbridge/2: Leg B -bleg, Both -both, else the channel itself)).
 * - `{kind: 'upload', command, file}`: store -> `bgapi http_put|http_post
 *   <Media-Transfer-Destination> <Media-Name>` (Media-Transfer-Method put | post; `stream`
 *   is unsupported, as 4.3); its outcome is published as store's CHANNEL_EXECUTE_COMPLETE
 *   (store-event.ts).
 * - `{kind: 'bridge'}`: bridge, whose endpoints are resolved when it runs (bridge.ts).
 * - `{kind: 'unsupported', reason}`: a catalogue command this ecallmgr cannot run on the
 *   switch (record_call, queue left unexpanded); the caller answers with a dialplan error.
 */
import type { Envelope } from '../../src/bus/index.ts';
import { appOf } from './insert-at.ts';

export type SwitchAction =
  | { readonly kind: 'execute'; readonly app: string; readonly arg: string }
  | { readonly kind: 'steps'; readonly steps: ReadonlyArray<readonly [string, string]> }
  | { readonly kind: 'api'; readonly command: string }
  | { readonly kind: 'upload'; readonly command: string; readonly file: string }
  | { readonly kind: 'bridge' }
  | { readonly kind: 'unsupported'; readonly reason: string };

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
/** Values go into one sendmsg header line: no newlines. */
const clean = (v: string): string => v.replace(/[\r\n]+/g, ' ');

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** A variable's value as FreeSWITCH takes it in one header line: no separator, no newline. */
const varValue = (v: unknown): string | undefined =>
  typeof v === 'boolean' ? String(v) : str(v) === undefined ? undefined : clean(str(v)!).replace(/\|/g, ' ');
const varPairs = (v: unknown, prefix: string): string[] =>
  isObj(v)
    ? Object.entries(v).flatMap(([k, x]) => {
        const val = varValue(x);
        return val === undefined || /[\s=|]/.test(k) ? [] : [`${prefix}${k}=${val}`];
      })
    : [];

/** kz_json:is_true: true or "true". */
const isTrue = (v: unknown): boolean => v === true || v === 'true';

/** ecallmgr_fs_bridge:unbridge/2's Leg -> uuid_transfer's flag (A, the default, none). */
const UNBRIDGE_LEG: Readonly<Record<string, string>> = { B: '-bleg ', Both: '-both ' };

/** Kazoo's tone_to_fs_tone: `[v=<Volume>;][l=<Repeat>;]%(<on>,<off>,<f1>,<f2>...)` each, `;`-joined. */
export function toneStream(tones: unknown): string {
  const parts = (Array.isArray(tones) ? tones : []).filter(isObj).map((t) => {
    const vol = str(t.Volume) === undefined ? '' : `v=${str(t.Volume)};`;
    const repeat = str(t.Repeat) === undefined ? '' : `l=${str(t.Repeat)};`;
    const freqs = (Array.isArray(t.Frequencies) ? t.Frequencies : []).map((f) => str(f) ?? '').join(',');
    return `${vol}${repeat}%(${str(t['Duration-ON']) ?? '0'},${str(t['Duration-OFF']) ?? '0'},${freqs})`;
  });
  return clean(`tone_stream://${parts.join(';')}`);
}

/** Kazoo's say_language: the first two letters of Language, `en` without one. */
const sayLanguage = (v: unknown): string => (str(v) ?? 'en').slice(0, 2);

function setSteps(cmd: Envelope): Array<readonly [string, string]> {
  const multiset = (pairs: string[]): Array<readonly [string, string]> =>
    pairs.length === 0 ? [] : [['multiset', `^^|${pairs.join('|')}`]];
  return [
    ...multiset(varPairs(cmd['Custom-Channel-Vars'], 'ecallmgr_')),
    ...multiset(varPairs(cmd['Custom-Application-Vars'], 'cav_')),
    ...varPairs(cmd['Custom-Call-Vars'], 'ecallmgr_').map((p) => ['export', p] as const),
  ];
}

export function switchAction(cmd: Envelope, uuid: string): SwitchAction {
  const app = appOf(cmd);
  switch (app) {
    case 'answer':
      return { kind: 'execute', app: 'answer', arg: '' };
    case 'hangup':
      return isTrue(cmd['Other-Leg-Only'])
        ? { kind: 'api', command: `uuid_park ${uuid}` }
        : { kind: 'execute', app: 'hangup', arg: clean(str(cmd['Hangup-Cause']) ?? '') };
    case 'unbridge':
      return {
        kind: 'api',
        command: `uuid_transfer ${uuid} ${UNBRIDGE_LEG[String(cmd.Leg)] ?? ''}park: inline`,
      };
    case 'play':
      return { kind: 'execute', app: 'playback', arg: clean(str(cmd['Media-Name']) ?? '') };
    case 'tts':
      return {
        kind: 'execute',
        app: 'playback',
        arg: clean(
          `tts://${str(cmd.Engine) ?? 'flite'}|${str(cmd.Voice) ?? 'female'}|${str(cmd.Text) ?? ''}`,
        ),
      };
    case 'record': {
      const limit = str(cmd['Time-Limit']);
      return {
        kind: 'execute',
        app: 'record',
        arg: clean(`${str(cmd['Media-Name']) ?? ''}${limit === undefined ? '' : ` ${limit}`}`),
      };
    }
    case 'park':
      return { kind: 'execute', app: 'park', arg: '' };
    case 'tones':
      return { kind: 'execute', app: 'playback', arg: toneStream(cmd.Tones) };
    case 'say': {
      const gender = str(cmd.Gender);
      const words = [sayLanguage(cmd.Language), str(cmd.Type), str(cmd.Method), str(cmd['Say-Text'])];
      return {
        kind: 'execute',
        app: 'say',
        arg: clean(words.map((w) => w ?? '').join(' ') + (gender === undefined ? '' : ` ${gender}`)),
      };
    }
    case 'set': {
      const steps = setSteps(cmd);
      // Nothing to set: a `set` of nothing, so the command still completes on the switch.
      return { kind: 'steps', steps: steps.length > 0 ? steps : [['multiset', '^^|']] };
    }
    case 'playseek': {
      const dir = str(cmd.Direction);
      const ms = Math.floor(Number(cmd.Duration));
      if ((dir !== 'fastforward' && dir !== 'rewind') || !Number.isFinite(ms) || ms < 0)
        return { kind: 'unsupported', reason: 'playseek needs Direction fastforward|rewind and a Duration' };
      return { kind: 'api', command: `uuid_fileman ${uuid} seek:${dir === 'rewind' ? '-' : '+'}${ms}` };
    }
    case 'store': {
      const method = str(cmd['Media-Transfer-Method']);
      const url = str(cmd['Media-Transfer-Destination']);
      const file = str(cmd['Media-Name']);
      if (method !== 'put' && method !== 'post')
        return { kind: 'unsupported', reason: `store: unhandled stream method ${method ?? '(none)'}` };
      if (url === undefined || file === undefined || /\s/.test(url) || /\s/.test(file))
        return {
          kind: 'unsupported',
          reason: 'store needs a Media-Name and a Media-Transfer-Destination without spaces',
        };
      return { kind: 'upload', command: `http_${method} ${url} ${file}`, file };
    }
    case 'playstop':
      return { kind: 'api', command: `uuid_break ${uuid}` };
    case 'noop': {
      const id = clean(str(cmd['Msg-ID']) ?? '').replace(/,/g, '');
      return {
        kind: 'execute',
        app: 'event',
        arg: `Event-Name=CUSTOM,Event-Subclass=kazoo::noop,kazoo_event_name=CHANNEL_EXECUTE_COMPLETE,kazoo_application_name=noop,kazoo_application_response=${id}`,
      };
    }
    case 'bridge':
      return { kind: 'bridge' };
    default:
      return {
        kind: 'unsupported',
        reason: `${app || 'a command without Application-Name'} is not supported by this ecallmgr`,
      };
  }
}
