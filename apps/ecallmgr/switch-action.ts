/**
 * A Kazoo dialplan command -> what to ask the switch (Kazoo's `ecallmgr_call_command`). Pure.
 *
 * Contract — `switchAction(cmd, uuid)` returns one of:
 * - `{kind: 'execute', app, arg}`: a sendmsg execute on the call's channel; its
 *   CHANNEL_EXECUTE_COMPLETE ends the command. answer -> answer; hangup -> hangup [cause];
 *   play -> playback <Media-Name>; tts -> playback tts://<Engine>|<Voice>|<Text>;
 *   record -> record <Media-Name> [Time-Limit]; park -> park; noop -> the `event`
 *   application firing CUSTOM kazoo::noop with
 *   kazoo_application_response = the noop's Msg-ID (call_events publishes it as the noop's
 *   CHANNEL_EXECUTE_COMPLETE, as Kazoo does).
 * - `{kind: 'api', command}`: an api command that ends the command when it returns
 *   (playstop -> uuid_break <uuid>).
 * - `{kind: 'bridge'}`: bridge, whose endpoints are resolved when it runs (bridge.ts).
 * - `{kind: 'unsupported', reason}`: a catalogue command this ecallmgr cannot run on the
 *   switch (record_call, queue left unexpanded); the caller answers with a dialplan error.
 */
import type { Envelope } from '../../src/bus/index.ts';
import { appOf } from './insert-at.ts';

export type SwitchAction =
  | { readonly kind: 'execute'; readonly app: string; readonly arg: string }
  | { readonly kind: 'api'; readonly command: string }
  | { readonly kind: 'bridge' }
  | { readonly kind: 'unsupported'; readonly reason: string };

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
/** Values go into one sendmsg header line: no newlines. */
const clean = (v: string): string => v.replace(/[\r\n]+/g, ' ');

export function switchAction(cmd: Envelope, uuid: string): SwitchAction {
  const app = appOf(cmd);
  switch (app) {
    case 'answer':
      return { kind: 'execute', app: 'answer', arg: '' };
    case 'hangup':
      return { kind: 'execute', app: 'hangup', arg: clean(str(cmd['Hangup-Cause']) ?? '') };
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
